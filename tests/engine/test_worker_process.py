"""The training process's event batching, without a process: the trainer's callbacks send one
message per interval (and at the start and each epoch's end), never one per batch."""

from __future__ import annotations

from engine.training.worker_process import SEND_EVERY_S, _Sender, exit_text


class Pipe:
    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def send(self, message) -> None:
        self.sent.append(message)


def test_a_burst_of_batches_goes_in_few_messages_and_the_first_at_once():
    pipe = Pipe()
    sender = _Sender(pipe)
    sender.hooks.on_train_start("start")
    sender.hooks.on_batch_end("b0")
    assert pipe.sent == [("events", ["start"]), ("events", ["b0"])]  # the first batch at once
    for i in range(1, 200):
        sender.hooks.on_batch_end(f"b{i}")
    sender.hooks.on_epoch_end("epoch")
    events = [e for kind, batch in pipe.sent if kind == "events" for e in batch]
    assert events == ["start"] + [f"b{i}" for i in range(200)] + ["epoch"]  # all, in order
    assert len(pipe.sent) <= 5  # 200 batches in far less than SEND_EVERY_S: a message or two
    assert SEND_EVERY_S <= 0.1


def test_a_failure_sends_what_was_buffered_then_one_line():
    pipe = Pipe()
    sender = _Sender(pipe)
    sender.hooks.on_batch_end("b0")
    sender.hooks.on_batch_end("b1")  # buffered
    sender.hooks.on_exception(ValueError("bad shape\nmore detail"))
    assert pipe.sent[-2:] == [
        ("events", ["b1"]),
        ("failed", "ValueError: bad shape"),
    ]  # as the thread path says it


def test_exit_text_names_a_signal_or_a_code():
    assert exit_text(-9) == "killed by signal 9"
    assert exit_text(1) == "exit code 1"
