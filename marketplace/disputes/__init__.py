"""Disputes: an annotator contests a rejection; an admin upholds or overturns it."""
