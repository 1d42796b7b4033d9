"""MNIST: train with the student's blanks for the course's budget; the grader scores the
returned weights itself on the test set."""
import pytest

from grader.gradcheck import CheckFailed

pytestmark = pytest.mark.part("mnist")


@pytest.mark.points(25)
def test_mnist_accuracy(mnist_run, course, note):
    """training with your blanks reaches the course's test accuracy"""
    run = mnist_run()
    note(f"test accuracy {run.accuracy:.4f}")
    if run.accuracy < course.mnist_accuracy:
        raise CheckFailed(f"test accuracy {run.accuracy:.4f} is below the course's threshold "
                          f"{course.mnist_accuracy:g} (trained {course.epochs} epochs, lr {course.learning_rate:g}, "
                          f"batch {course.batch_size})")
