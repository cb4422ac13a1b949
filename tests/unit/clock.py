"""A manual clock for the breaker's back-off: time moves when a test says so."""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
