"""Jobs (구직등록 · 채용정보 · 취업 연계): one room. `registration` is the job seeker's profile,
`postings` the matched postings and their digest, `referrals` the counselor's side of a
seeker's 관심 있어요, `firms` the admins' vetting of firms and postings. Modules of this room
import each other, no other feature."""
