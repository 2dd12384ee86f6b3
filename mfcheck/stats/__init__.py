"""Statistics that do not depend on any claim: results, verdicts and Holm's procedure
(:mod:`~mfcheck.stats.results`), and the power of a one-sided slope test (:mod:`~mfcheck.stats.power`)."""
