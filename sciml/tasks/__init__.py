"""Problem kinds (tasks): how each kind of problem is built, trained, evaluated and loaded."""
