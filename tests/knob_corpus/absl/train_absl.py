"""absl flags: `--num_epochs=3 --workdir=...`."""

from absl import app, flags, logging

FLAGS = flags.FLAGS

flags.DEFINE_integer("num_epochs", 20, "Number of training epochs.")
flags.DEFINE_string("workdir", None, "Directory to store model data.")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_float("learning_rate", 0.1, "Learning rate.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    del argv
    logging.info("training for %d epochs into %s", FLAGS.num_epochs, FLAGS.workdir)


if __name__ == "__main__":
    app.run(main)
