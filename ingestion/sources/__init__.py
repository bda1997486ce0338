"""Sources: a local folder and a blob container (see ``base.Source``)."""
