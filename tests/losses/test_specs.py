"""Term specs: how configs and the command line name terms through the registry."""

import pytest

from keras_kd import losses


def test_parse_spec_reads_names_arguments_and_json_values():
    assert losses.parse_spec("kd") == {"name": "kd"}
    spec = "hint: teacher_layer_name=block3, student_layer_name=block3, weight=100"
    assert losses.parse_spec(spec) == {
        "name": "hint", "teacher_layer_name": "block3", "student_layer_name": "block3", "weight": 100,
    }  # fmt: skip
    assert losses.parse_spec("at:p=2,mode=paper,data_format=null") == {
        "name": "at", "p": 2, "mode": "paper", "data_format": None,
    }  # fmt: skip


@pytest.mark.parametrize("spec, match", [
    ("", "non-empty string"),
    ("kd:temperature", "key=value"),
    ("kd:=4", "key=value"),
])
def test_parse_spec_explains_malformed_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        losses.parse_spec(spec)


def test_from_specs_builds_terms_weights_and_fills_defaults_only_where_taken():
    existing = losses.PKT(teacher_layer_name="f", student_layer_name="f")
    terms, weights = losses.from_specs(
        ["kd", "dkd:beta=4,weight=2.5", {"name": "sp", "teacher_layer_name": "b", "student_layer_name": "b",
                                          "weight": 3000}, existing],
        defaults={"temperature": 2.0},
    )
    assert [type(t) for t in terms] == [losses.KD, losses.DKD, losses.SimilarityPreserving, losses.PKT]
    assert weights == [1.0, 2.5, 3000.0, 1.0]
    assert terms[0].temperature == 2.0 and terms[1].temperature == 2.0 and terms[1].beta == 4.0
    assert terms[3] is existing
    # A spec's own value wins over the default.
    assert losses.from_specs(["kd:temperature=8"], defaults={"temperature": 2.0})[0][0].temperature == 8.0


@pytest.mark.parametrize("specs, match", [
    ("kd", "list of term specs"),
    ([], "list of term specs"),
    (["nope"], r"Unknown distillation term 'nope'.*Available names: .*kd"),
    (["kd:temprature=4"], r"KD \('kd'\) takes no argument 'temprature'. Its arguments: temperature"),
    (["kd:weight=-1"], "non-negative number"),
    (["kd:weight=high"], "non-negative number"),
    ([{"temperature": 4}], "needs a 'name' key"),
])
def test_from_specs_errors_name_the_problem(specs, match):
    with pytest.raises(ValueError, match=match):
        losses.from_specs(specs)
