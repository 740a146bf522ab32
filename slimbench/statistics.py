"""Small-sample statistics of repeated runs: Student-t intervals and Welch's t-test.

Written with the standard library only (the project does not depend on SciPy): the t
distribution's CDF through the regularized incomplete beta function, its quantile by
bisection on that CDF.
"""

import math


def _incomplete_beta_fraction(a, b, x):
  """The continued fraction of the regularized incomplete beta function (modified Lentz)."""
  tiny = 1e-300
  c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
  d = 1.0 / (d if abs(d) > tiny else tiny)
  result = d
  for m in range(1, 300):
    for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                      -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
      d = 1.0 + numerator * d
      d = 1.0 / (d if abs(d) > tiny else tiny)
      c = 1.0 + numerator / c
      c = c if abs(c) > tiny else tiny
      result *= c * d
    if abs(c * d - 1.0) < 1e-15:
      break
  return result


def regularized_incomplete_beta(a, b, x):
  """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
  if x <= 0.0:
    return 0.0
  if x >= 1.0:
    return 1.0
  log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) +
               b * math.log1p(-x))
  # The fraction converges fast on the side of the mean; use the symmetry on the other.
  if x < (a + 1.0) / (a + b + 2.0):
    return math.exp(log_front) * _incomplete_beta_fraction(a, b, x) / a
  return 1.0 - math.exp(log_front) * _incomplete_beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t, df):
  """P(T <= t) for Student's t with `df` (possibly fractional) degrees of freedom."""
  tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
  return 1.0 - tail if t >= 0 else tail


def t_quantile(probability, df):
  """The t with t_cdf(t, df) == probability, for 0.5 <= probability < 1."""
  low, high = 0.0, 1.0
  while t_cdf(high, df) < probability:
    high *= 2.0
  for _ in range(200):
    middle = 0.5 * (low + high)
    if t_cdf(middle, df) < probability:
      low = middle
    else:
      high = middle
    if high - low < 1e-12:
      break
  return 0.5 * (low + high)


def mean(values):
  return sum(values) / len(values)


def sample_std(values):
  """Standard deviation with n - 1 in the denominator; 0 for a single value."""
  if len(values) < 2:
    return 0.0
  centre = mean(values)
  return math.sqrt(sum((v - centre) ** 2 for v in values) / (len(values) - 1))


def ci95_half_width(values):
  """Half-width of the 95% Student-t confidence interval of the mean; None below 2 values."""
  if len(values) < 2:
    return None
  return t_quantile(0.975, len(values) - 1) * sample_std(values) / math.sqrt(len(values))


def welch_t_test(first, second):
  """Two-sided p-value of Welch's t-test that two samples share a mean.

  Returns None when either sample has fewer than 2 values. Two samples without spread
  give 1.0 if their means are equal and 0.0 otherwise.
  """
  if len(first) < 2 or len(second) < 2:
    return None
  var_first = sample_std(first) ** 2 / len(first)
  var_second = sample_std(second) ** 2 / len(second)
  difference = mean(first) - mean(second)
  if var_first + var_second == 0.0:
    return 1.0 if difference == 0.0 else 0.0
  t = difference / math.sqrt(var_first + var_second)
  df = (var_first + var_second) ** 2 / (
      var_first ** 2 / (len(first) - 1) + var_second ** 2 / (len(second) - 1))
  return 2.0 * (1.0 - t_cdf(abs(t), df))
