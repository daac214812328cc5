"""Each user's training items, recovered from RecBole's split sequential datasets.

Head/tail groups, GAA's activity split and its Pearson filter must see *training*
interactions only. RecBole does not keep them as a plain list: its sequential datasets
hold augmented rows ``(user, item_id_list, item_length, target)`` and truncate
``item_id_list`` at ``MAX_ITEM_LIST_LENGTH``. Under the leave-one-out split every
training item is either the target of a training row or the first item of the user's
sequence, and the first item is ``item_id_list[0]`` of the one row with
``item_length == 1`` (in the training split, or the validation split for users with
exactly three interactions). That recovers the full history without truncation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrainingHistory:
    """Training items per user in time order, as CSR arrays over RecBole internal ids.

    Attributes:
        indptr: ``[n_users + 1]``; user ``u``'s items are ``items[indptr[u]:indptr[u+1]]``.
        items: ``[n_train_interactions]`` internal item ids.
        n_items: number of internal item ids, padding id 0 included.
    """

    indptr: np.ndarray
    items: np.ndarray
    n_items: int

    @property
    def n_users(self) -> int:
        return len(self.indptr) - 1

    def user_counts(self) -> np.ndarray:
        """``[n_users]`` number of training interactions of each user."""
        return np.diff(self.indptr)

    def item_counts(self) -> np.ndarray:
        """``[n_items]`` training popularity of each item."""
        return np.bincount(self.items, minlength=self.n_items)

    def items_of(self, user: int) -> np.ndarray:
        return self.items[self.indptr[user] : self.indptr[user + 1]]

    def user_item_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """``([n], [n])`` user and item ids of every training interaction."""
        users = np.repeat(np.arange(self.n_users), self.user_counts())
        return users, self.items

    @classmethod
    def from_datasets(cls, train_dataset, valid_dataset=None) -> "TrainingHistory":
        """Build from the training and validation splits of a RecBole SequentialDataset.

        Without ``valid_dataset`` (what a model's ``__init__`` has), a user whose only
        training item is the first of the sequence (three interactions in all) has no items.
        """
        config = train_dataset.config
        uid, iid, time = train_dataset.uid_field, train_dataset.iid_field, train_dataset.time_field
        list_field = iid + config["LIST_SUFFIX"]
        length_field = config["ITEM_LIST_LENGTH_FIELD"]
        n_users, n_items = train_dataset.user_num, train_dataset.item_num

        users, items, times = [], [], []
        train = train_dataset.inter_feat
        users.append(train[uid].numpy())
        items.append(train[iid].numpy())
        times.append(train[time].numpy().astype(np.float64))
        splits = (train,) if valid_dataset is None else (train, valid_dataset.inter_feat)
        for split in splits:
            first = split[length_field].numpy() == 1
            if first.any():
                users.append(split[uid].numpy()[first])
                items.append(split[list_field].numpy()[first, 0])
                times.append(np.full(int(first.sum()), -np.inf))  # before every target
        users_arr = np.concatenate(users)
        items_arr = np.concatenate(items)
        times_arr = np.concatenate(times)
        order = np.lexsort((times_arr, users_arr))
        counts = np.bincount(users_arr, minlength=n_users)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(indptr=indptr, items=items_arr[order].astype(np.int64), n_items=n_items)

    @classmethod
    def from_dataloaders(cls, train_data, valid_data) -> "TrainingHistory":
        return cls.from_datasets(train_data._dataset, valid_data._dataset)
