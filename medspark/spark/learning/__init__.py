"""What the classifiers share: labels joined to the tables, the split by patient every consumer
uses, and a network's scoring as a batched UDF."""
