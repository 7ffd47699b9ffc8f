from vsodboost.hookspecs import hookimpl


@hookimpl
def register_targets(register):
    pass
