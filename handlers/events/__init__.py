"""Events (투자 아카데미, 데모데이/창업기업설명회, 창업스쿨, 네트워킹, 채용박람회): one room, two routers.
`public` is the people's side (register, wait, check in), `admin` the admins' (publish, edit,
cancel, attendance); `common` is what both use. Modules of this room import each other, no
other feature."""
