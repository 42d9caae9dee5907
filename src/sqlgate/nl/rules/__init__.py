"""The rule-based translator: a deterministic question → SQL translator over the semantic model.

No network, no model weights: it reads a question in stages, one module each, and says what it
did.

1. **Words** (:mod:`~sqlgate.nl.rules.words`). The question is split into words
   (:mod:`sqlgate.nl.text`); dates and time grains are found first (:mod:`sqlgate.nl.timeexpr`:
   "in 2023", "last month", "by week"); then, longest phrase first, question keywords
   (:mod:`sqlgate.nl.vocabulary`: "how many", "average", "top", "more than", "not") and the
   model's vocabulary (:mod:`sqlgate.nl.lexicon`: models, fields, metrics, synonyms and sampled
   values). Ambiguous words are settled by the other models in the question and join distance.
2. **Roles** (:mod:`~sqlgate.nl.rules.roles`). One pass gives each mapped phrase a role: a
   *measure* (count, sum, average, min, max of a field, or a metric), a *dimension* to group by
   (a field, a model, a time grain), a *filter* (a value, a comparison, a date range, a count in
   HAVING), the *order* and a *limit*.
3. **Plan** (:mod:`~sqlgate.nl.rules.planning`). What the roles left open is settled: the root
   model, what is ranked, the field a bare comparison compares, the date column of a range.
4. **SQL** (:mod:`~sqlgate.nl.rules.building`). Every model the question touches is joined to
   the measure's model along the shortest path of relationships (:mod:`sqlgate.nl.joins`); a
   count across a one-to-many join counts distinct keys. Semantic SQL is built with sqlglot and
   expanded into native SQL for the connection (:mod:`sqlgate.nl.expand`); both pass the SQL
   guard.
5. **Explanation** (:mod:`~sqlgate.nl.rules.explaining`). Every answer says what the query does,
   and lists which words mapped to which model parts (:class:`WordMapping`).

When nothing in the question maps to the model, or it asks to change data, the answer is
``NON_SQL_QUERY`` with an explanation of what was understood and what was not
(:mod:`~sqlgate.nl.rules.translator`, which runs the stages in order).
"""

from sqlgate.nl.rules.answer import RuleAnswer, WordMapping
from sqlgate.nl.rules.translator import RuleTranslator

__all__ = ["RuleAnswer", "RuleTranslator", "WordMapping"]
