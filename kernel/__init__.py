"""The vocabulary every feature speaks: incoming messages and replies, routers, forms and
their runner, translations, settings, the clock and the metrics.

It sits below the features (`handlers/`), the scheduler and the reports, and above
`storage/` and `matching/`: nothing here imports a feature, a channel or the app.
"""
