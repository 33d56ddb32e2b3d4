from clinicbot.services.choices import option_number, pick_option

DAYS = [
    {"value": "2026-11-30", "label": "segunda, 30/11"},
    {"value": "2026-12-01", "label": "terça, 01/12"},
    {"value": "2026-12-02", "label": "quarta, 02/12"},
]
TIMES = [
    {"value": "2026-12-01T08:00:00-03:00", "label": "08:00"},
    {"value": "2026-12-01T10:30:00-03:00", "label": "10:30"},
]


def entity(name, value):
    return {"entity": name, "value": value}


def test_number_entity_and_bare_numbers_pick_by_position():
    assert pick_option(DAYS, [entity("numero_opcao", 2)], "a segunda") == DAYS[1]
    assert pick_option(DAYS, [], "3") == DAYS[2]
    assert pick_option(DAYS, [], " 1. ") == DAYS[0]
    assert pick_option(DAYS, [], "opção 2") == DAYS[1]


def test_number_outside_the_list_picks_nothing():
    assert pick_option(DAYS, [], "7") is None
    assert pick_option(DAYS, [entity("numero_opcao", 0)], "zero") is None


def test_a_date_or_time_picks_the_matching_option():
    assert pick_option(DAYS, [entity("data", "2026-11-30")], "na segunda") == DAYS[0]
    assert pick_option(TIMES, [entity("hora", "10:30")], "as 10h30") == TIMES[1]


def test_a_date_not_offered_picks_nothing():
    assert pick_option(DAYS, [entity("data", "2026-12-25")], "natal") is None


def test_tapped_label_picks_the_option():
    assert pick_option(TIMES, [], "10:30") == TIMES[1]


def test_unrelated_answer_picks_nothing():
    assert pick_option(DAYS, [], "tanto faz") is None


def test_option_number_ignores_unusable_entities():
    assert option_number([entity("numero_opcao", "x"), entity("numero_opcao", "4")], "") == 4


def test_appointments_are_picked_by_their_start():
    appointments = [
        {"value": "ag_1", "label": "terça", "starts_at": "2026-12-01T09:00:00-03:00"},
        {"value": "ag_2", "label": "sexta", "starts_at": "2026-12-04T14:00:00-03:00"},
    ]
    assert (
        pick_option(appointments, [entity("data", "2026-12-04")], "a de sexta") == appointments[1]
    )
