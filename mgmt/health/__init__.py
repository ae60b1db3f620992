"""Health: probing clusters, deciding phases, aggregating the Fleet status."""
