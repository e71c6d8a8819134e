"""Pure Block Kit builders: values in, Slack blocks out, no I/O.

One module per surface: :mod:`order_card` (lookup, channel and notification cards, the contact reveal),
:mod:`acknowledge` (the button's value, status lines, the reference modal, answers, bulk results),
:mod:`digest`, :mod:`changes` (threaded replies), :mod:`history`, :mod:`help` and :mod:`lookup` (the lookup
service's answers). They read orders through :mod:`reading`, put Meta's codes into :mod:`words`, and build
elements within Slack's limits with :mod:`kit`. :mod:`blocks` re-exports the builders under their former home.
"""
