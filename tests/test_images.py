"""Step images: MLflow's file names are the index of which key and step each image holds."""

from __future__ import annotations

from registry.store.images import StepImage, image_at, parse_image_names

UUID = "0511220b-2f86-4bfd-b063-0a3a46e5e374"


def test_full_and_compressed_files_pair_up_and_keys_get_their_slashes_back() -> None:
    names = [
        f"images/pred~sample+step+10+timestamp+1700000000500+{UUID}.png",
        f"images/pred~sample+step+10+timestamp+1700000000500+{UUID}+compressed.webp",
        "images/pred~sample%step%2%timestamp%1700000000100%abc-1.png",  # older MLflow: % separators
        "images/notes.txt",
        "images/loss+step+x+timestamp+1+u.png",
    ]
    found = parse_image_names("r", names)
    assert found == [
        StepImage("r", "pred/sample", 2, 1700000000100, names[2], names[2]),
        StepImage("r", "pred/sample", 10, 1700000000500, names[0], names[1]),
    ]


def test_the_image_at_a_step_is_the_last_one_logged_at_or_before_it() -> None:
    images = [StepImage("r", "k", step, step, f"{step}.png", f"{step}.webp") for step in (0, 5, 10)]
    assert image_at(images, "k", 7).step == 5  # type: ignore[union-attr]
    assert image_at(images, "k", 10).step == 10  # type: ignore[union-attr]
    assert image_at(images, "k", -1) is None
    assert image_at(images, "other", 10) is None
