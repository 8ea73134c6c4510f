"""Pure image functions over numpy arrays: intensity, preprocessing, features. No Spark."""
