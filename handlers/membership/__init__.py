"""The startup centre's membership (입주·멤버십): one room. `apply` is the founder's application
and status, `review` the admins' decisions and member stages. Modules of this room import each
other, no other feature."""
