"""Neural network building blocks: recurrences, the TAP tracker/parser, sequence taggers."""
