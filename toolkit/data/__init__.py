"""Reading data as the user meant it: files and hub datasets, splits, mixtures, streams, token shards, label
columns, and the cleaning of pretraining corpora. Imports nothing from the layers that run training."""
