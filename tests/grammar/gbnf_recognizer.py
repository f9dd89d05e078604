"""The GBNF recognizer now ships in the core (`gateway.gbnf_recognizer`, also exported by
`gateway.testing`); this name stays for the tests that import it from here."""

from gateway.gbnf_recognizer import Grammar, accepts, parse_gbnf, sample

__all__ = ["Grammar", "accepts", "parse_gbnf", "sample"]
