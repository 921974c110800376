"""The command line, `python -m bot COMMAND` (`jobhub COMMAND`): one module per command group.

`main` parses and dispatches; `db` holds the database set-up every command shares
(`migrated`) besides `db upgrade|backup`; `serve` runs the channels (`run`, `kakao`,
`serve`), `shell` the terminal chat; `counselors`, `firms`, `report` and `retention` are
the operators' bulk tasks.
"""
