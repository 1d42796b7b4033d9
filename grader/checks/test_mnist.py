"""MNIST: train with the student's blanks for the course's budget; the grader scores the
returned weights itself on the test set, and checks that they came from that training."""
import pytest

from grader.gradcheck import CheckFailed

pytestmark = pytest.mark.part("mnist")


@pytest.mark.points(25)
@pytest.mark.blanks()  # earned by training, which no answer key can do
def test_mnist_accuracy(mnist_run, course, note):
    """training with your blanks reaches the course's test accuracy"""
    run = mnist_run()
    note(f"test accuracy {run.accuracy:.4f}")
    if run.distance is None:
        note("the weights were not compared with the reference's (no reference solution here); "
             "official grading does compare them")
    else:
        note(f"weights are {run.distance:.3g} from the reference's (relative distance; at most "
             f"{course.mnist_weight_distance:g} passes)")
    if run.distance is not None and run.distance > course.mnist_weight_distance:
        raise CheckFailed(
            f"the trained weights are {run.distance:.2f} (relative distance) away from the weights the course's "
            f"training reaches from the same start on the same batches (any correct solution lands within "
            f"{course.mnist_weight_distance:g}): they did not come from training with your blanks")
    if run.accuracy < course.mnist_accuracy:
        raise CheckFailed(f"test accuracy {run.accuracy:.4f} is below the course's threshold "
                          f"{course.mnist_accuracy:g} (trained {course.epochs} epochs, lr {course.learning_rate:g}, "
                          f"batch {course.batch_size})")
