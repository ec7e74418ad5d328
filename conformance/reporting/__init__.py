"""Writers of conformance results (one module per format); the model is conformance.results."""
