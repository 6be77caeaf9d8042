"""One module per `spikestream` subcommand of the pipeline core."""
