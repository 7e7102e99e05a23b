"""The compiled MTCNN detector is built through mtcnn's public API only, and still runs compiled.

``MtcnnDetector`` no longer replaces the private ``stage._model`` of the package's stages: it builds
stage instances whose network is the compiled wrapper (see ``detection._compiled_stage``). This
checks the parts of mtcnn's API that relies on, so an mtcnn release that changes them fails here
with a message saying what changed, instead of silently running the slow eager networks.
"""

import cv2
import numpy as np
import pytest

from mimamo_tf.faces import detection


@pytest.fixture(scope="module")
def frame():
    from skimage import data

    return cv2.resize(data.astronaut(), (320, 320), interpolation=cv2.INTER_AREA)


def test_mtcnn_offers_the_public_stage_api_the_detector_uses():
    import mtcnn
    from mtcnn.stages import StageONet, StagePNet, StageRNet
    from mtcnn.stages.base import StageBase

    marker = object()
    for stage_class in (StagePNet, StageRNet, StageONet):
        assert issubclass(stage_class, StageBase), f"mtcnn {mtcnn.__version__}: {stage_class} is no StageBase"
        stage = stage_class.__new__(stage_class)
        StageBase.__init__(stage, stage_name="s", stage_id=7, model=marker)
        assert (stage.model, stage.name, stage.id) == (marker, "s", 7), (
            f"mtcnn {mtcnn.__version__}: StageBase(model=...) no longer sets the stage's model; "
            "update mimamo_tf.faces.detection._compiled_stage (checked against mtcnn 1.0.0)")


def test_compiled_stages_run_the_compiled_networks_and_match_the_stock_package(frame):
    compiled = detection.MtcnnDetector(max_side=0)
    stock = detection.MtcnnDetector(max_side=0, compile_networks=False)
    stages = compiled._mtcnn.stages  # pylint: disable=protected-access  (the project's own attribute)
    assert [type(s).__name__ for s in stages] == ["StagePNet", "StageRNet", "StageONet"]
    assert all(isinstance(s.model, detection._CompiledNetwork) for s in stages)  # pylint: disable=protected-access
    got, expected = compiled.detect(frame), stock.detect(frame)
    assert len(got) == len(expected) >= 1
    # Each stage ran its compiled network (a stage that ignored the model it was built with would
    # run the stock eager network and give the same faces, only 2-3x slower).
    for stage in stages:
        assert stage.model._compiled.experimental_get_tracing_count() >= 1, (  # pylint: disable=protected-access
            f"{type(stage).__name__} did not run the network it was built with; see detection._compiled_stage")
    for a, b in zip(sorted(got, key=lambda d: d.score), sorted(expected, key=lambda d: d.score)):
        np.testing.assert_allclose(a.box, b.box, atol=0.05)
        np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.05)
        assert a.score == pytest.approx(b.score, abs=1e-4)
    # A frame without a face: the compiled wrapper's empty-batch path still means "no face".
    assert compiled.detect(np.zeros((120, 160, 3), np.uint8)) == []
