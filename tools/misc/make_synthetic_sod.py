"""Write the small synthetic salient object detection data set.

    python tools/misc/make_synthetic_sod.py OUT_DIR [--num-train N]
        [--num-val N] [--size H W] [--seed S] [--soft-edges] [--overwrite]

Layout: OUT_DIR/{train,val}/images/*.jpg and OUT_DIR/{train,val}/GT/*.png
(0/255 masks), as read by configs/_base_/datasets/synthetic_sod.py (default
OUT_DIR: data/synthetic_sod). The same arguments give the same files.
"""
import argparse
import sys
import time

from csnet_mmseg.datasets.synthetic import make_synthetic_sod


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write a small synthetic SOD data set')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument(
        '--num-train', type=int, default=80, help='training images')
    parser.add_argument(
        '--num-val', type=int, default=20, help='validation images')
    parser.add_argument(
        '--size',
        type=int,
        nargs=2,
        default=[128, 128],
        metavar=('H', 'W'),
        help='nominal image size; each side varies by +-25%% '
        '(see --size-jitter)')
    parser.add_argument(
        '--size-jitter',
        type=float,
        default=0.25,
        help='relative variation of height and width')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--soft-edges',
        action='store_true',
        help='keep anti-aliased (soft) mask edges instead of 0/255')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace OUT_DIR/train and OUT_DIR/val if OUT_DIR is not empty')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    try:
        info = make_synthetic_sod(
            args.out_dir,
            num_train=args.num_train,
            num_val=args.num_val,
            size=tuple(args.size),
            seed=args.seed,
            size_jitter=args.size_jitter,
            soft_edges=args.soft_edges,
            overwrite=args.overwrite,
            progress=True)
    except (FileExistsError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print()
    for split, item in info.items():
        print(f"{split}: {item['num']} images in {item['img_dir']}, "
              f"masks in {item['ann_dir']}")
    print(f'done in {time.time() - start:.1f}s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
