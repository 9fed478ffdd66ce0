"""The message catalogues (gettext .po, compiled .mo at build): data read as package resources."""
