"""NASNet-A and PNASNet-5: cells found by architecture search, in TF-Slim's layout.

`nasnet_utils` holds the cell tables' types and the one builder of both families;
`nasnet` and `pnasnet` hold the papers' cells, configurations and registered builders.
"""
