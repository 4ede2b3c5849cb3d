"""Reports rendered from the records: run and sweep pages, plots, participation sections, intervals over seeds, HTML."""
