"""Packaging for mimamo_tf (MIMAMO Net in TensorFlow/Keras) and its data preparation tools."""

from setuptools import find_packages, setup

# Versions are pinned to the ranges tested on this project's machines; see DESIGN notes in README
# ("Dependencies") for why tensorflow-addons and tensorflow-io are deliberately absent.
INSTALL_REQUIRES = [
    "tensorflow==2.21.*",
    # Tested with Keras 3.15.1 and keras-tuner 1.4.8; the trainer uses only public Keras APIs.
    "keras==3.15.*",
    "keras-tuner==1.4.*",
    # keras-tuner's Bayesian optimisation (python -m mimamo_tf.tune --tuner=bayesian).
    "scikit-learn>=1.5,<2",
    # TF 2.21 no longer depends on tensorboard; keras-tuner and the TensorBoard callback need it.
    "tensorboard==2.21.*",
    "absl-py>=2.1,<3",
    "numpy>=1.26,<3",
    # OpenCV 5 removed the Haar cascades and changed APIs.
    "opencv-python-headless>=4.10,<5",
    # The LiteRT interpreter (tf.lite.Interpreter is deprecated).
    "ai-edge-litert>=2.0,<3",
    # Face detector whose weights ship inside the wheel.
    "mtcnn>=1.0,<2",
    # The public-domain `astronaut` face photo the synthetic default dataset is rendered from.
    "scikit-image>=0.24",
    # Progress bars of data preparation and training.
    "tqdm>=4.66,<5",
    # Plots of training curves and results.
    "matplotlib>=3.8,<4",
]

# export --onnx and predict --model=model.onnx (pip install mimamo_tf[onnx]): the versions tested
# (tf2onnx 1.17 converts up to opset 18; onnx and onnxruntime take TF 2.21's protobuf as it is).
ONNX_REQUIRES = ["tf2onnx==1.17.*", "onnx==1.23.*", "onnxruntime==1.32.*"]

EXTRAS_REQUIRE = {
    "onnx": ONNX_REQUIRES,
    # pyrtools is the numerical reference for the steerable pyramid (tests and the benchmark's
    # per-snippet baseline); scikit-image ships the public-domain `astronaut` face photo.
    "test": [
        "pytest>=8",
        # make test runs the suite on two processes (--dist loadfile, see tests/conftest.py).
        "pytest-xdist>=3.5,<4",
        "pyrtools==1.1.*",
        "scipy>=1.11",
        # Builds real TF Serving gRPC PredictRequests in the export tests (the server binary is not
        # installable here).
        "tensorflow-serving-api==2.21.*",
        # The ONNX export and runner tests run against real tf2onnx and onnxruntime.
        *ONNX_REQUIRES,
    ],
}

setup(
    name="mimamo_tf",
    version="0.1.0",
    description="MIMAMO Net (AAAI 2020): valence/arousal from face video with phase differences "
    "of a complex steerable pyramid, in TensorFlow/Keras",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["mimamo_tf", "mimamo_tf.*", "data_prep", "data_prep.*"]),
    # The flagfiles ship inside the package (found with importlib.resources); configs/ at the top of
    # the checkout is a link to the same folder.
    package_data={"mimamo_tf": ["configs/*.cfg"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={
        "console_scripts": [
            "mimamo-bench=mimamo_tf.bench:run",
            "mimamo-phase-demo=mimamo_tf.phase_demo:run",
            "mimamo-train=mimamo_tf.train:run",
            "mimamo-evaluate=mimamo_tf.evaluate:run",
            "mimamo-report=mimamo_tf.report:run",
            "mimamo-convert-weights=mimamo_tf.convert_weights:run",
            "mimamo-export=mimamo_tf.export:run",
            "mimamo-predict=mimamo_tf.predict:run",
            "mimamo-tune=mimamo_tf.tune:run",
            "mimamo-study=mimamo_tf.study:run",
            "mimamo-prepare=data_prep.prepare:run",
            "mimamo-inspect=data_prep.inspect:run",
            "mimamo-synthetic=data_prep.synthetic:run",
        ],
    },
)
