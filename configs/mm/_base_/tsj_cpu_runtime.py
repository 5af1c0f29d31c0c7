# A short iteration-based CPU run: 200 iterations, validation and a checkpoint every 100, log
# every 10. Only `tsj_*` names, for the reason given in datasets/tsj_synthetic_pairs_96x128.py:
# a config sets its own keys from these (`train_cfg = _base_.tsj_train_cfg`).
tsj_train_cfg = dict(type="IterBasedTrainLoop", max_iters=200, val_interval=100)
tsj_warmup = [dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=20)]
tsj_default_hooks = dict(checkpoint=dict(by_epoch=False, interval=100), logger=dict(interval=10))
tsj_log_processor = dict(by_epoch=False)
