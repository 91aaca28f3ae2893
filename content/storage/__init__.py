"""Where song folders live, behind one small interface (see base.py)."""
