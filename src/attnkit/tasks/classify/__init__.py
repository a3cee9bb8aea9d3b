"""Image classification with squeeze-and-excitation: Fashion-MNIST on (SE-)ResNet-20/56.

Commands::

    attnkit train classify --config configs/classify_fmnist.yaml [--set model.arch=resnet20]
    attnkit eval --model RUN_DIR                        # top-1 accuracy + confusion matrix PNG
    attnkit classify --model RUN_DIR a.png b.jpg        # top-k classes with probabilities
    attnkit explain classify --model RUN_DIR --out se.png  # mean SE gates per class (Fig. 6)
    attnkit export --model RUN_DIR --out fmnist.onnx    # ONNX, checked with onnxruntime
"""

from attnkit.tasks.classify.config import Config, ModelConfig
from attnkit.tasks.classify.explain import channel_weights_by_class, class_specificity, explain
from attnkit.tasks.classify.export import PixelClassifier, export_classifier
from attnkit.tasks.classify.task import (
    TASK,
    ClassifyTask,
    build_network,
    confusion_matrix,
    predict_logits,
)

__all__ = [
    "TASK",
    "ClassifyTask",
    "Config",
    "ModelConfig",
    "PixelClassifier",
    "build_network",
    "channel_weights_by_class",
    "class_specificity",
    "confusion_matrix",
    "explain",
    "export_classifier",
    "predict_logits",
]
