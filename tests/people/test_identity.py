"""Identity evidence: what counts as the same human, and what does not."""

from schoolgate.people.identity import Candidate, best_matches, compare, duplicate_pairs


def c(pid, code, given, family, email="", phone="", kind="contact"):
    return Candidate.of(pid, code, kind, given, family, email, phone)


def test_code_change_is_a_strong_match_with_reasons():
    old = c(1, "C1", "Zoë", "O'Brien", " Zoe.OBrien@Example.org ", "+1 (555) 010-2000")
    new = c(2, "C2", "Zoe", "OBrien", "zoe.obrien@example.org", "555-010-2000")
    evidence = compare(old, new)
    assert evidence.strength == "strong" and evidence.score == 1.0
    assert evidence.reasons == ["email", "phone", "family name", "given name"]


def test_mother_and_father_sharing_household_email_and_phone_are_not_the_same_human():
    mum = c(1, "M", "Anna", "Lee", "lees@example.org", "5550100100")
    dad = c(2, "D", "Tom", "Lee", "lees@example.org", "5550100100")
    evidence = compare(mum, dad)
    assert evidence.strength is None and "different given name" in evidence.reasons


def test_name_and_phone_only_is_weak_and_an_initial_agrees():
    assert (
        compare(
            c(1, "A", "Kate", "Ng", phone="5550001111"), c(2, "B", "K", "Ng", phone="5550001111")
        ).strength
        == "weak"
    )


def test_best_matches_pairs_each_record_once_and_keeps_kinds_apart():
    olds = [c(1, "old", "Sam", "Roe", "sam@x.org")]
    news = [c(2, "new", "Sam", "Roe", "sam@x.org"), c(3, "staff", "Sam", "Roe", "sam@x.org", kind="staff")]
    assert [(o.code, n.code) for o, n, _ in best_matches(olds, news)] == [("old", "new")]


def test_duplicates_need_strong_evidence():
    people = [
        c(1, "mum-a", "Rosa", "Diaz", "rosa@x.org"),
        c(2, "mum-b", "Rosa", "Díaz", "ROSA@x.org"),
        c(3, "dad", "Luis", "Diaz", "rosa@x.org"),
    ]
    assert [(a.code, b.code) for a, b, _ in duplicate_pairs(people)] == [("mum-a", "mum-b")]
