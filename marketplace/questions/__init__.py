"""Task questions: an annotator asks about a task, the requester answers for every annotator of the project."""
