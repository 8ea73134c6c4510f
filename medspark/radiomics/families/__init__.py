"""One module per IBSI feature family; `medspark.radiomics.catalogue` lists them."""
