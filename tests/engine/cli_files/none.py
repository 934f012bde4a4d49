"""No pipeline here."""

X = 1
