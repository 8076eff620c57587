import keras
import numpy as np

import utils


def fit_all(model, x, y):
    model.fit(x, y, batch_size=32, verbose=0)


def cross_entropy(y, outputs):
    return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, outputs))


def step(training):
    """A learner's training step that calls the model with `training`, on this backend."""
    def train_step(model, optimizer, x, y):
        return utils.training_step(model, optimizer, cross_entropy, training, compiled=False)(x, y)
    return train_step


def test_a_train_step_calling_model_x_is_told_to_pass_training_true():
    report = utils.check_train_step(step(None))
    assert not report.passed and "model(x, training=True)" in report.problems[0]


def test_a_train_step_with_training_true_passes():
    assert utils.check_train_step(step(True)).passed


def test_mc_predict_with_training_true_is_told_that_it_changed_batchnorm():
    report = utils.check_mc_predict(
        lambda model, x, samples: np.stack([model(x, training=True) for _ in range(samples)]))
    assert not report.passed and "changed the model" in report.problems[0]


def test_mc_predict_with_mc_dropout_passes():
    def mc_predict(model, x, samples):
        mc = utils.with_mc_dropout(model)
        return np.stack([mc(x) for _ in range(samples)])
    assert utils.check_mc_predict(mc_predict).passed


def mc_model(dropout):
    def build():
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(2)(dropout(keras.layers.Dense(16)(inputs))))
    return build


def test_a_model_with_training_true_written_in_is_told_to_use_mc_dropout():
    report = utils.check_mc_model(mc_model(lambda h: keras.layers.Dropout(0.5)(h, training=True)))
    assert not report.passed and "utils.MCDropout" in report.problems[0]


def test_the_mc_model_message_says_what_predict_did_on_this_keras_not_a_range_of_releases():
    report = utils.check_mc_model(mc_model(lambda h: keras.layers.Dropout(0.5)(h, training=True)))
    assert f"On this Keras ({keras.__version__}) predict " in report.problems[0]
    assert "3.0 to 3.15" not in report.problems[0] and "other releases" not in report.problems[0]


def test_a_model_with_mc_dropout_passes():
    assert utils.check_mc_model(mc_model(utils.MCDropout(0.5))).passed


def recompile(model):
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")


def test_unfreezing_everything_is_told_that_batchnorm_moved():
    def prepare(model, base):
        base.trainable = True
        recompile(model)
    report = utils.check_fine_tuning(prepare)
    assert not report.passed and "moved during fine-tuning" in report.problems[0]


def test_the_fine_tuning_message_blames_trainable_not_a_training_value_the_model_does_not_have():
    def prepare(model, base):
        base.trainable = True
        recompile(model)
    problem = utils.check_fine_tuning(prepare).problems[0]
    assert "with trainable=True" in problem and "training=False" not in problem


def test_unfreezing_with_batchnorm_kept_frozen_passes():
    def prepare(model, base):
        utils.unfreeze(base)
        recompile(model)
    assert utils.check_fine_tuning(prepare).passed


def test_unfreezing_without_compiling_again_is_told_the_base_did_not_train():
    report = utils.check_fine_tuning(lambda model, base: utils.unfreeze(base))
    assert not report.passed and "compile the model again" in report.problems[0]


def test_freezing_without_compiling_again_is_told_to_compile():
    def freeze(model):
        model.get_layer("first").trainable = False
    report = utils.check_freeze(freeze)
    assert not report.passed and "compile(...) again" in report.problems[0]


def test_freezing_then_compiling_passes():
    def freeze(model):
        model.get_layer("first").trainable = False
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert utils.check_freeze(freeze).passed


def test_training_one_example_at_a_time_is_told_about_batches_of_one():
    def train(model, x, y):
        for i in range(8):
            model.train_on_batch(x[i:i + 1], y[i:i + 1])
    report = utils.check_stream_training(train)
    assert not report.passed and "batch of 1" in report.problems[0]


def test_training_on_mini_batches_passes():
    assert utils.check_stream_training(fit_all).passed


def test_the_evaluate_loss_is_told_it_is_the_inference_mode_loss():
    report = utils.check_training_mode_loss(lambda model, x, y: model.evaluate(x, y, verbose=0))
    assert not report.passed and "inference-mode loss" in report.problems[0]


def test_a_training_mode_loss_that_updates_batchnorm_is_told_it_changed_the_model():
    def loss(model, x, y):
        return float(keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))))
    report = utils.check_training_mode_loss(loss)
    assert not report.passed and "keep_moving_statistics" in report.problems[0]


def test_a_training_mode_loss_with_statistics_kept_passes():
    def loss(model, x, y):
        with utils.keep_moving_statistics(model):
            predictions = model(x, training=True)
        return float(keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, predictions)))
    assert utils.check_training_mode_loss(loss).passed


def test_a_plain_dropout_call_is_told_to_pass_training_true():
    report = utils.check_dropout_in_training(lambda layer, x: layer(x))
    assert not report.passed and "training=True" in report.problems[0]


def test_a_dropout_call_in_training_mode_passes():
    assert utils.check_dropout_in_training(lambda layer, x: layer(x, training=True)).passed


def test_code_that_raises_is_reported_not_crashed():
    report = utils.check_freeze(lambda model: model.get_layer("no such layer"))
    assert not report.passed and report.problems[0].startswith("Your code raised ValueError")


def test_a_report_reads_as_plain_words():
    report = utils.Report("an exercise", ["first problem"])
    assert repr(report) == str(report) == "NOT YET: an exercise\n- first problem"
    assert "passed" in utils.Report("an exercise")._repr_markdown_()


def test_check_recalibration_rejects_training_mode_calls_on_the_test_inputs():
    def repair(model, x_train, x_test):
        for _ in range(10):
            model(x_test, training=True)

    report = utils.check_recalibration(repair)
    assert not report.passed and "leaked" in str(report)


def test_check_recalibration_rejects_a_repair_that_changes_nothing():
    report = utils.check_recalibration(lambda model, x_train, x_test: None)
    assert not report.passed and "unchanged" in str(report)


def test_check_recalibration_passes_recalibrate_batchnorm():
    report = utils.check_recalibration(lambda model, x_train, x_test: utils.recalibrate_batchnorm(model, x_train))
    assert report.passed, str(report)


def test_check_fold_into_next_rejects_a_fold_that_forgets_the_shift():
    def fold(batchnorm, dense):
        gamma, beta, mean, variance = batchnorm.get_weights()
        kernel, bias = dense.get_weights()
        return kernel * (gamma / np.sqrt(variance + batchnorm.epsilon))[:, None], bias

    report = utils.check_fold_into_next(fold)
    assert not report.passed and "shift is lost" in str(report)


def test_check_fold_into_next_passes_the_exact_fold():
    def fold(batchnorm, dense):
        gamma, beta, mean, variance = batchnorm.get_weights()
        kernel, bias = dense.get_weights()
        scale = gamma / np.sqrt(variance + batchnorm.epsilon)
        return kernel * scale[:, None], bias + (beta - scale * mean) @ kernel

    report = utils.check_fold_into_next(fold)
    assert report.passed, str(report)
