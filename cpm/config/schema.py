"""Typed run configuration. Every key is documented once, here, next to its default.

YAML files map onto these dataclasses (`load_config`); a file may start with `base: other.yaml` to inherit
and override; `--set a.b=c` overrides apply last. Unknown keys and wrong types are one-line errors that name
the key and suggest the closest valid one (cpm/config/load.py); value rules are in cpm/config/checks.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# The allowed values of the enumerated keys, listed only here; the loader checks them (cpm/config/checks.py).
DataFormat = Literal["synthetic", "arrays", "ctrgcn", "pyskl", "msr_action3d"]
Stream = Literal["joint", "bone", "motion"]
Channels = Literal["xyz", "xys", "xy"]
NormCenter = Literal["frame", "start"]
NormRotation = Literal["frame", "clip", "none"]
GraphStrategy = Literal["uniform", "distance", "spatial"]
DataBN = Literal["mvc", "vc"]
Init = Literal["pytorch", "lineage"]
OptimName = Literal["lars", "sgd"]
EncoderBranch = Literal["student", "target", "average"]
AmpMode = Literal["auto", "bf16", "fp16", "off"]
Report = Literal["last", "best"]
ProbeSolver = Literal["sgd", "lbfgs"]
MomentumSchedule = Literal["constant", "cosine"]
MSR_TRAIN_SUBJECTS = (1, 3, 5, 7, 9)  # MSR Action3D cross-subject training performers (Li et al. 2010): the
# values data.validation_subjects may hold, and the training split of cpm/data/readers.py


@dataclass
class AugmentConfig:
    shear: float = 0.5  # shear amplitude s: off-diagonal entries ~ U(-s, s) (CrosSCLR/AimCLR); 0 = off
    crop_pad_ratio: int = 6  # temporal crop: mirror-pad T // ratio frames each side, crop back to T; 0 = off
    rotation: float = 0.0  # max random rotation about x, y, z in degrees (lineage extra); 0 = off
    noise_std: float = 0.0  # std of Gaussian noise added to present joints (lineage extra); 0 = off
    joint_mask_prob: float = 0.0  # probability of zeroing each joint over the whole clip (lineage extra); 0 = off
    crop_resize_min: float = 0.0  # random temporal crop of ratio in [min, 1] resized back to T (CMD/AimCLR); 0 = off
    scale: float = 0.0  # per-axis scale factors ~ U(1 - s, 1 + s) after the shear (ST-GCN random_move's scale, per
    # axis): body size and proportions then differ between the two views, so they stop naming the performer; 0 = off
    posture_jitter: float = 0.0  # std of one offset per coordinate, joint and person of each view, the same in every
    # frame: the static posture differs between the two views, so it stops naming the performer (docs 2g-2h). In
    # the data's units (centred, not rescaled: metres for Kinect / NTU, so 0.08 = 8 cm); 0 = off
    motion_scale: float = 0.0  # each view's motion about every joint's temporal mean scaled by one a ~ U(1 - s, 1 + s):
    # performers differ in how far they move (per-joint temporal std 0.04-0.08 m on MSR, docs 2g), so the two views
    # should not agree through it; applied after the 3x3 maps, before joint mask and noise; 0 = off
    on_device: bool = True  # batched augmentation on the training device; False = per-sample numpy in workers


@dataclass
class SyntheticConfig:
    num_classes: int = 12  # motion classes of the embedded demo dataset (>= 10)
    num_train: int = 1200  # training sequences
    num_test: int = 600  # test sequences (performed by other, unseen subjects)
    seed: int = 0  # the dataset is a deterministic function of this seed
    num_subjects: int = 20  # performers; the first 60 % act in the train split, the others in the test split
    noise: float = 0.01  # std (m) of the Gaussian noise added to every joint coordinate
    view_range: float = 60.0  # camera yaw about the vertical axis ~ U(-view_range, view_range) degrees
    second_person_prob: float = 0.15  # probability of an idle second person in the clip
    distractor_prob: float = 0.25  # probability of a faint movement of another class on top of the action


@dataclass
class DataConfig:
    format: DataFormat = "synthetic"  # synthetic | arrays (st-gcn/CrosSCLR .npy + .pkl) | ctrgcn (.npz) | pyskl
    # (.pkl) | msr_action3d
    root: str = ""  # folder (arrays, msr_action3d) or file (ctrgcn .npz, pyskl .pkl)
    train_split: str = "train"  # split name: arrays -> {name}_data.npy / {name}_position.npy; pyskl -> split key
    test_split: str = "val"  # split name of the evaluation set (ctrgcn always uses x_test)
    layout: str = "ntu"  # ntu | kinect_v1 (MSR order) | kinect_sdk | coco17 | openpose18 | custom (see cpm/graph.py)
    layout_num_joints: int = 0  # custom layout: number of joints
    layout_edges: list = field(default_factory=list)  # custom layout: 0-based [child, parent] pairs forming a tree
    # (any root: the one joint that is no child; bones point from each joint to its parent)
    layout_center: int = 0  # custom layout: 0-based centre joint of the spatial partition (any joint)
    layout_shoulders: list = field(default_factory=list)  # custom layout: 0-based [left, right] shoulders, which
    # data.normalize turns onto x (needs 3-D); [] = unknown: clips are centred, not turned
    channels: Channels = "xyz"  # per joint: xyz (3-D) | xys (2-D x, y + detector score, pyskl 2-D) | xy (x, y only);
    # model.in_channels must be 3, 3, 2 respectively
    stream: Stream = "joint"  # joint | bone | motion, computed on the fly from joint data
    num_frames: int = 50  # T fed to the model; longer/shorter valid frames are resized to it
    max_persons: int = 2  # M: persons kept (padded with zeros)
    normalize: bool | str = "auto"  # true: per clip at load, centre on the layout's centre joint and rotate about y
    # so the shoulders lie along x (prepare_ntu's 'position' preprocessing); auto: do so for 3-D camera coordinates
    # (msr_action3d, or clips whose centre joint is > 1 body extent from the origin), with a note; false: never.
    # 2-D keypoints (channels xys / xy): true centres x, y only, no rotation, the score untouched; auto = false
    normalize_center: NormCenter = "frame"  # what normalising subtracts: frame = the centre joint of every frame (the
    # lineage's 'position', 2s-AGCN); start = the centre joint at the person's first frame, for the whole clip
    # (SGN / CTR-GCN), so the body's travel stays in the clip
    normalize_rotation: NormRotation = "frame"  # frame = shoulders along x in every frame (CrosSCLR 'position');
    # clip = one rotation about y per clip from its mean shoulder line (2s-AGCN: the first frame's), so turns
    # stay in the clip; none
    class_names: list = field(default_factory=list)  # names by label (entry i names label i) for plots and
    # tables; [] = class_names_file, the synthetic dataset's own names, else numbers
    class_names_file: str = ""  # text file, one name per line (line i = label i - 1), or a shipped list:
    # ntu60 | ntu120 | pku_mmd | msr_action3d (cpm/data/classes.py); "" = none
    num_classes: int = 0  # 0 = from the data (one-hot width, MSR Action3D's 20, synthetic; else max label + 1)
    array_name: str = ""  # arrays: read {split}_{array_name}.npy; "" = {split}_position.npy if present, else _data
    validation: bool = False  # model selection on training subjects only, the test split unread: msr_action3d
    # trains on subjects 1,3,5 and evaluates on 7,9; synthetic holds out the last third of its training subjects
    validation_subjects: list = field(default_factory=list)  # msr_action3d with validation: the training subjects
    # (MSR_TRAIN_SUBJECTS) evaluated on, the others trained on; [] = 7, 9. [1], [3], ... [9] = leave-one-performer-out
    # folds
    scan: bool = False  # arrays/ctrgcn: scan the file at load (NaN/inf, drop empty samples); False = check per item
    num_workers: int = 2  # DataLoader worker processes
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class ModelConfig:
    in_channels: int = 3  # channels per joint: 3 for data.channels xyz or xys, 2 for xy (checked at load)
    hidden_channels: int = 16  # h: ST-GCN widths are [h]*4 + [2h]*3 + [4h]*2 + [hidden_dim] (CrosSCLR/AimCLR)
    hidden_dim: int = 256  # encoder output size
    graph_strategy: GraphStrategy = "spatial"  # ST-GCN partition: uniform | distance | spatial (K=3)
    temporal_kernel: int = 9  # temporal convolution kernel (paper 4.2)
    edge_importance: bool = True  # learnable edge importance masks (ST-GCN)
    dropout: float = 0.5  # dropout in blocks 2..10; paper silent, AimCLR/CrosSCLR pretraining configs use 0.5
    data_bn: DataBN = "mvc"  # input BatchNorm over M*V*C (2s-AGCN/CTR-GCN) or "vc" (ST-GCN/CrosSCLR code)
    output_bn: bool = False  # BatchNorm (no affine) on the pooled encoder output h: one scale for every feature
    # dimension, what the probes and kNN see (eval: the training run's statistics); False = ST-GCN as published
    proj_hidden: int = 512  # projector g: hidden_dim -> proj_hidden -> proj_dim (paper 4.2)
    proj_dim: int = 128  # embedding size D of z, p and the queue (paper 4.2)
    pred_hidden: int = 512  # predictor: proj_dim -> pred_hidden -> proj_dim (paper 4.2)
    symmetric: bool = True  # average the loss over both views as student (SimSiam); False = x1 student only
    target_momentum: float = 0.0  # 0 = SimSiam shared weights + stop-grad (paper); >0 = EMA target (BYOL/MoCo)
    # constant: the EMA momentum stays target_momentum; cosine: it rises from target_momentum at step 0 to 1 at the
    # last step, m = 1 - (1 - target_momentum)(1 + cos(pi k / K)) / 2 (BYOL Sec. 3.2, MoCo v3), so the target
    # (the queue's and the mining's embedding) settles as training ends; needs target_momentum > 0
    target_momentum_schedule: MomentumSchedule = "constant"
    # share of the run, at its end, over which a uniform average of the student's weights is kept (SWA, Izmailov et
    # al. 2018; Polyak averaging) for eval.encoder=average; BN statistics from its own passes; 0 = off (paper)
    average_last: float = 0.0
    center: bool = False  # subtract the batch mean from z and z' in training (Sec. 3.1 "mean-centered"); False = as-is
    proj_bn: bool = False  # BatchNorm (no affine) on the projector output z, SimSiam's: centred + unit variance per dim
    sync_bn: bool = True  # >1 CUDA process under torchrun: one BN over the global batch (lineage: 1 GPU); false = off
    init: Init = "pytorch"  # pytorch (layer defaults) | lineage: conv/linear N(0, .02), BN weight N(1, .02), biases 0
    # (the weights_init of ST-GCN/CrosSCLR/AimCLR processor/pretrain.py)


@dataclass
class LossConfig:
    tau: float = 0.1  # student temperature tau (Eq. 1)
    tau_target: float = 0.05  # target temperature tau' (Eq. 2)
    queue_size: int = 65536  # N, contextual queue length (paper: 65536 NTU, 32768 PKU-I, 16384 PKU-II)
    topk: int = 100  # K mined positives in stage 2 (Eq. 5); 0 = no positive mining (w/o PM ablation)
    pe_start_epoch: int = 300  # first epoch of stage 2 (positive-enhanced Eq. 8); before it Eq. 4
    renormalize: bool = False  # Eq. 7 as written (False) or mined logits set to 1/tau' then softmax (True)
    exclude_self: bool = False  # leave a sample's own earlier queue entries out of D, D' and mining; paper: kept


@dataclass
class OptimConfig:
    name: OptimName = "lars"  # lars (paper) | sgd
    lr: float = 0.5  # peak learning rate after warmup (paper 4.2)
    final_lr: float = 0.0005  # learning rate at the end of the cosine decay (paper 4.2)
    momentum: float = 0.9  # paper silent; SimSiam/BYOL/AimCLR use 0.9
    weight_decay: float = 1e-4  # paper silent; SimSiam/CrosSCLR/AimCLR pretraining use 1e-4
    trust_coefficient: float = 0.001  # LARS eta (You et al. 2017; SimSiam/BYOL implementations)
    fix_predictor_lr: bool = False  # SimSiam's --fix-pred-lr: the predictor stays at optim.lr while the rest
    # warms up and decays; paper silent (off)


@dataclass
class ScheduleConfig:
    warmup_epochs: int = 10  # linear warmup from 0 to optim.lr (paper 4.2), then cosine to final_lr


@dataclass
class TrainConfig:
    epochs: int = 400  # pretraining epochs (paper 4.2)
    batch_size: int = 512  # global batch (split across torchrun ranks)
    seed: int = 0  # seeds python, numpy and torch
    device: str = "auto"  # auto (cuda if available) | cpu | cuda | cuda:N
    amp: AmpMode = "auto"  # auto (bf16 if supported else fp16, CUDA only) | bf16 | fp16 | off
    compile: bool = False  # torch.compile the model
    out_dir: str = "runs/default"  # checkpoints, resolved config and logs go here
    save_every: int = 50  # keep epoch_XXXX.pt every this many epochs (last.pt is written every epoch)


@dataclass
class EvalConfig:
    knn_every: int = 0  # kNN accuracy on the test split every N pretraining epochs; 0 = off
    # the encoder that probes, kNN monitor and load_encoder read: student (the paper's f; SimSiam, MoCo, BYOL) or
    # the EMA target (DINO evaluates its teacher: an average of the last ~1/(1-m) steps; needs target_momentum > 0)
    # or the student's weight average over the last model.average_last of the run (needs it > 0)
    encoder: EncoderBranch = "student"
    knn_k: int = 20  # neighbours of the weighted cosine kNN
    knn_t: float = 0.1  # temperature of the kNN vote weights exp(sim / t)
    # BN statistics of the evaluated encoder re-estimated as a plain average over this many augmented training
    # batches (two views each) before every kNN check and the final checkpoint (PreciseBN, Wu & Johnson 2021): the
    # EMA running statistics remember ~5 steps; 0 = keep them as they are (lineage). Acts in pretraining: the probes
    # of linear_eval.py etc. read the statistics the checkpoint carries
    precise_bn: int = 0
    linear_epochs: int = 100  # linear probe epochs (paper 4.2)
    linear_lr: float = 3.0  # linear probe SGD learning rate (CrosSCLR/AimCLR)
    linear_momentum: float = 0.9  # linear probe SGD momentum
    linear_weight_decay: float = 0.0  # linear probe weight decay (AimCLR: 0)
    linear_milestones: list = field(default_factory=lambda: [80])  # epochs where lr is divided by 10
    linear_standardize: bool = True  # also probe z-scored features (train-split mean/std, MAE) and report both
    standardized_lr: float = 0.0  # SGD lr of that z-scored probe; 0 = linear_lr. Its inputs have unit variance,
    # the lineage's lr 3.0 was set for raw features (MSR Action3D CV: 0.03 gives +4.9, docs/learning.md 2i)
    standardized_weight_decay: float = 0.0  # L2 of that z-scored probe (its own; linear_weight_decay is the lineage
    # probe's): few clips a class fit exactly, so small datasets regularise it (SimCLR/BYOL transfer probes, L2 by val)
    # how that z-scored probe is fitted: sgd = the lineage's epochs and milestones at standardized_lr (where it stops
    # moves with the probe seed); lbfgs = its objective solved to convergence, full batch in float64 (CLIP/SimCLR's
    # scikit-learn transfer probe): one answer per checkpoint, needs standardized_weight_decay > 0
    standardized_solver: ProbeSolver = "sgd"
    batch_size: int = 256  # evaluation batch size (linear probe, fine-tuning, features); CrosSCLR/AimCLR: 128
    linear_test_every: int = 5  # linear probe: test top-1 every N epochs and at the last (lineage eval_interval: 5)
    report: Report = "last"  # linear `top1` = last epoch | best tested epoch (CrosSCLR/AimCLR); both are stored
    mining_k: int = 0  # K of the mining precision logged in pretraining (Fig. 3: top-100 everywhere); 0 = loss.topk
    finetune_epochs: int = 100  # semi-supervised / full fine-tuning epochs
    finetune_lr: float = 0.1  # fine-tuning SGD learning rate (AimCLR semi-supervised: 0.1)
    finetune_weight_decay: float = 1e-4  # fine-tuning weight decay
    finetune_milestones: list = field(default_factory=lambda: [80])  # fine-tuning lr steps (x0.1)
    finetune_momentum: float = 0.9  # fine-tuning SGD momentum (AimCLR/CrosSCLR: 0.9)
    finetune_augment: bool = False  # fine-tune on data.augment views; paper silent, AimCLR fine-tunes unaugmented
    label_seed: int = 0  # seed of the class-balanced labelled subset of the semi-supervised protocol
    benchmark: str = ""  # results-table column: ntu60-xsub|ntu60-xview|ntu120-xsub|ntu120-xset|pku1|pku2; "" = other


@dataclass
class LoggingConfig:
    tensorboard: bool = True  # write TensorBoard scalars under <out_dir>/tb
    log_every: int = 10  # steps between per-step scalars
    progress: bool = True  # tqdm progress bar per epoch


@dataclass
class Config:
    name: str = "cpm"  # run name, used in logs and results tables
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def to_dict(self) -> dict:
        """Plain nested dict (YAML/JSON/checkpoint safe)."""
        from dataclasses import asdict

        return asdict(self)

