//! The contract every [`Catalog`] implementation must pass (feature `contract`).
//!
//! Each check is a `pub async fn check(catalog) -> Result<(), String>` that uses fresh random
//! owners, so the suite can run against a shared table that already holds data (the local
//! stack's, or moto's), and reports the first broken expectation. [`run_all`] runs them all in
//! the order of [`CHECKS`].
//!
//! ```no_run
//! # async fn demo(catalog: thumbforge_catalog::DynamoCatalog) -> Result<(), String> {
//! let passed = thumbforge_catalog::contract::run_all(&catalog).await?;
//! assert_eq!(passed, thumbforge_catalog::contract::CHECKS.len());
//! # Ok(()) }
//! ```

use std::fmt::Debug;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use thumbforge_core::manifest::{FailReason, Outcome, RejectReason, Rendition, Source};
use thumbforge_core::{InputFormat, OutputFormat};
use uuid::Uuid;

use thumbforge_core::describe::{ALBUMS_MAX, ALBUMS_PER_PHOTO_MAX};

use crate::{
    AccountState, Album, Catalog, CatalogError, DAY_MS, Details, Edit, Finish, ImageRecord, ImageState,
    MAX_PAGE, Membership, NewAlbum, NewImage, Owner, Page, Profile, Quota, Quotas, Usage,
};

/// The checks [`run_all`] runs, by function name, in order.
pub const CHECKS: [&str; 27] = [
    "create_then_get_round_trips",
    "duplicate_create_is_refused",
    "list_pages_newest_first",
    "owners_are_isolated",
    "foreign_cursor_stays_in_partition",
    "finish_records_the_outcome",
    "second_finish_changes_nothing",
    "finish_after_delete_creates_nothing",
    "delete_returns_the_record_and_counts_follow",
    "concurrent_creates_and_deletes_count_exactly",
    "finish_racing_delete_leaves_nothing",
    "page_size_is_checked",
    "release_expired_subtracts_once",
    "edits_set_and_clear_details_and_keep_the_tag_index",
    "tagged_listing_pages_newest_first_inside_the_partition",
    "concurrent_edits_and_a_delete_leave_one_consistent_state",
    "albums_are_invisible_to_other_owners",
    "albums_hold_each_photo_once_and_count_it",
    "deleting_an_album_keeps_its_photos",
    "deleting_a_photo_removes_its_memberships",
    "concurrent_album_changes_leave_one_consistent_state",
    "album_listing_pages_newest_first_with_a_tag_filter",
    "album_limits_are_enforced",
    "account_deletion_refuses_writes_then_clears_everything",
    "quotas_refuse_what_would_exceed_them_and_change_nothing",
    "concurrent_creates_at_a_quota_never_exceed_it",
    "a_failed_image_takes_a_later_outcome",
];

/// Runs every check in [`CHECKS`] order and returns how many passed (all of them), or the
/// first failure as `check_name: what went wrong`.
///
/// # Errors
///
/// The first failing check's name and message.
pub async fn run_all<C: Catalog>(catalog: &C) -> Result<usize, String> {
    let mut passed = 0;
    macro_rules! run {
        ($($check:ident),* $(,)?) => {$(
            $check(catalog).await.map_err(|e| format!("{}: {e}", stringify!($check)))?;
            passed += 1;
        )*};
    }
    run!(
        create_then_get_round_trips,
        duplicate_create_is_refused,
        list_pages_newest_first,
        owners_are_isolated,
        foreign_cursor_stays_in_partition,
        finish_records_the_outcome,
        second_finish_changes_nothing,
        finish_after_delete_creates_nothing,
        delete_returns_the_record_and_counts_follow,
        concurrent_creates_and_deletes_count_exactly,
        finish_racing_delete_leaves_nothing,
        page_size_is_checked,
        release_expired_subtracts_once,
        edits_set_and_clear_details_and_keep_the_tag_index,
        tagged_listing_pages_newest_first_inside_the_partition,
        concurrent_edits_and_a_delete_leave_one_consistent_state,
        albums_are_invisible_to_other_owners,
        albums_hold_each_photo_once_and_count_it,
        deleting_an_album_keeps_its_photos,
        deleting_a_photo_removes_its_memberships,
        concurrent_album_changes_leave_one_consistent_state,
        album_listing_pages_newest_first_with_a_tag_filter,
        album_limits_are_enforced,
        account_deletion_refuses_writes_then_clears_everything,
        quotas_refuse_what_would_exceed_them_and_change_nothing,
        concurrent_creates_at_a_quota_never_exceed_it,
        a_failed_image_takes_a_later_outcome,
    );
    Ok(passed)
}

/// Returns `Err(message)` from the check unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(format!($($message)+));
        }
    };
}

/// A pending image, then the same after a ready outcome and another after a rejected one, read
/// back field for field; an unknown id reads as `None`.
///
/// # Errors
///
/// What differed.
pub async fn create_then_get_round_trips<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let image = new_image(1234, "été 🌅 «quoted» \"name\".JPG");
    catalog.create(&owner, &image).await.map_err(op("create"))?;
    let got = get(catalog, &owner, image.id).await?;
    same(&got, &Some(pending(&owner, &image)), "the pending image read back")?;

    let ready = ready_outcome(image.id);
    let finished_at = now_ms();
    expect_finish(catalog.finish(&owner, image.id, &ready, finished_at).await, "finishing as ready")?;
    let got = get(catalog, &owner, image.id).await?;
    same(&got, &Some(finished(&owner, &image, ready, finished_at)), "the ready image read back")?;

    let other = new_image(1, "empty.gif");
    catalog.create(&owner, &other).await.map_err(op("create"))?;
    let rejected = Outcome::Rejected {
        reason: RejectReason::DecodeLimitExceeded,
        message: "decoding would need 2 GiB, more than the 512 MiB allowed".into(),
    };
    expect_finish(
        catalog.finish(&owner, other.id, &rejected, finished_at + 1).await,
        "finishing as rejected",
    )?;
    let got = get(catalog, &owner, other.id).await?;
    same(&got, &Some(finished(&owner, &other, rejected, finished_at + 1)), "the rejected image read back")?;

    same(&get(catalog, &owner, Uuid::now_v7()).await?, &None, "an id never created")?;
    Ok(())
}

/// Creating an id the owner has fails with `AlreadyExists` and changes neither the image nor
/// the counts.
///
/// # Errors
///
/// What differed.
pub async fn duplicate_create_is_refused<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let image = new_image(500, "first.png");
    catalog.create(&owner, &image).await.map_err(op("create"))?;
    let again = NewImage { filename: "second.png".into(), size: 9_999, ..image.clone() };
    match catalog.create(&owner, &again).await {
        Err(CatalogError::AlreadyExists { .. }) => {}
        other => return Err(format!("a duplicate create gave {other:?}, not AlreadyExists")),
    }
    same(
        &get(catalog, &owner, image.id).await?,
        &Some(pending(&owner, &image)),
        "the image after the duplicate",
    )?;
    same(&profile(catalog, &owner).await?, &Profile { images: 1, bytes: 500, albums: 0 }, "the profile")?;
    Ok(())
}

/// Five images paged with every page size from 1 to 6: newest first, each cursor continuing
/// exactly where the page ended, `next` only when more follow; cursors at the ends; an owner
/// with nothing.
///
/// # Errors
///
/// What differed.
pub async fn list_pages_newest_first<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let mut expected = Vec::new();
    for i in 0..5 {
        let image = new_image(100 + i, &format!("p{i}.jpg"));
        catalog.create(&owner, &image).await.map_err(op("create"))?;
        expected.push(pending(&owner, &image));
    }
    expected.reverse();

    for limit in 1..=6_u16 {
        let mut seen: Vec<ImageRecord> = Vec::new();
        let mut after = None;
        for page_number in 1.. {
            ensure!(page_number <= 6, "limit {limit}: more than 6 pages for 5 images");
            let page = list(catalog, &owner, limit, after).await?;
            let start = seen.len();
            let end = (start + usize::from(limit)).min(expected.len());
            same(&page.items, &expected[start..end].to_vec(), &format!("limit {limit}, page {page_number}"))?;
            seen.extend(page.items.iter().cloned());
            let more = seen.len() < expected.len();
            let want_next = more.then(|| seen.last().map(|r| r.id)).flatten();
            same(&page.next, &want_next, &format!("limit {limit}, page {page_number}: next"))?;
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        same(&seen, &expected, &format!("limit {limit}: everything listed"))?;
    }

    let oldest = expected.last().map(|r| r.id);
    same(&list(catalog, &owner, 10, oldest).await?, &Page::default(), "after the oldest image")?;
    let newest = expected.first().map(|r| r.id);
    let page = list(catalog, &owner, 10, newest).await?;
    same(&page.items, &expected[1..].to_vec(), "after the newest image")?;
    same(&page.next, &None, "after the newest image: next")?;
    let nobody = fresh_owner()?;
    same(&list(catalog, &nobody, 10, None).await?, &Page::default(), "an owner with no images")?;
    Ok(())
}

/// Another owner sees nothing of the first one's images and cannot finish or delete them.
///
/// # Errors
///
/// What differed.
pub async fn owners_are_isolated<C: Catalog>(catalog: &C) -> Result<(), String> {
    let alice = fresh_owner()?;
    let bob = fresh_owner()?;
    let images = [new_image(10, "a1.jpg"), new_image(20, "a2.jpg")];
    for image in &images {
        catalog.create(&alice, image).await.map_err(op("create"))?;
    }
    same(&list(catalog, &bob, MAX_PAGE, None).await?, &Page::default(), "the other owner's list")?;
    same(&profile(catalog, &bob).await?, &Profile::default(), "the other owner's profile")?;
    for image in &images {
        same(&get(catalog, &bob, image.id).await?, &None, "the other owner's get")?;
        let finish = catalog.finish(&bob, image.id, &ready_outcome(image.id), now_ms()).await;
        same(&finish, &Ok(Finish::Missing), "the other owner's finish")?;
        same(&catalog.delete(&bob, image.id).await, &Ok(None), "the other owner's delete")?;
        same(
            &get(catalog, &alice, image.id).await?,
            &Some(pending(&alice, image)),
            "the owner's image after",
        )?;
    }
    same(
        &profile(catalog, &alice).await?,
        &Profile { images: 2, bytes: 30, albums: 0 },
        "the owner's profile after",
    )?;
    same(&list(catalog, &bob, MAX_PAGE, None).await?, &Page::default(), "the other owner's list after")?;
    same(&profile(catalog, &bob).await?, &Profile::default(), "the other owner's profile after")?;
    Ok(())
}

/// A cursor holding another owner's image id only positions the list in the caller's own
/// partition: it returns the caller's older images and nothing of the other owner's.
///
/// # Errors
///
/// What differed.
pub async fn foreign_cursor_stays_in_partition<C: Catalog>(catalog: &C) -> Result<(), String> {
    let alice = fresh_owner()?;
    let bob = fresh_owner()?;
    // Ids in time order: b1 < a1 < b2 < a2.
    let b1 = new_image(1, "b1.jpg");
    catalog.create(&bob, &b1).await.map_err(op("create"))?;
    let a1 = new_image(2, "a1.jpg");
    catalog.create(&alice, &a1).await.map_err(op("create"))?;
    let b2 = new_image(3, "b2.jpg");
    catalog.create(&bob, &b2).await.map_err(op("create"))?;
    let a2 = new_image(4, "a2.jpg");
    catalog.create(&alice, &a2).await.map_err(op("create"))?;

    let page = list(catalog, &bob, MAX_PAGE, Some(a1.id)).await?;
    same(&page, &Page { items: vec![pending(&bob, &b1)], next: None }, "bob's list after alice's a1")?;
    let page = list(catalog, &bob, MAX_PAGE, Some(a2.id)).await?;
    let want = vec![pending(&bob, &b2), pending(&bob, &b1)];
    same(&page, &Page { items: want, next: None }, "bob's list after alice's a2")?;
    let page = list(catalog, &alice, 1, Some(b2.id)).await?;
    same(&page, &Page { items: vec![pending(&alice, &a1)], next: None }, "alice's list after bob's b2")?;
    let page = list(catalog, &alice, MAX_PAGE, Some(b1.id)).await?;
    same(&page, &Page::default(), "alice's list after bob's b1 (older than all of hers)")?;
    Ok(())
}

/// Finishing a pending image sets its outcome and `finishedAt`, removes its expiry, and leaves
/// everything else (and the counts) alone.
///
/// # Errors
///
/// What differed.
pub async fn finish_records_the_outcome<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let image = new_image(4321, "f.webp");
    catalog.create(&owner, &image).await.map_err(op("create"))?;
    let before = get(catalog, &owner, image.id).await?.ok_or("the created image is missing")?;
    same(&before.expires_at_s, &Some(image.expires_at_s), "the pending image's expiry")?;
    same(&before.finished_at_ms, &None, "the pending image's finishedAt")?;

    let ready = ready_outcome(image.id);
    let at = now_ms();
    expect_finish(catalog.finish(&owner, image.id, &ready, at).await, "finishing")?;
    let after = get(catalog, &owner, image.id).await?.ok_or("the finished image is missing")?;
    same(&after.state, &ImageState::Finished(ready.clone()), "the state")?;
    same(&after.finished_at_ms, &Some(at), "finishedAt")?;
    same(&after.expires_at_s, &None, "the expiry after finishing")?;
    same(&after, &finished(&owner, &image, ready, at), "the whole record")?;
    same(&list(catalog, &owner, 10, None).await?.items, &vec![after], "the listed record")?;
    same(&profile(catalog, &owner).await?, &Profile { images: 1, bytes: 4321, albums: 0 }, "the profile")?;
    Ok(())
}

/// A second finish (a duplicate delivery, or a different outcome) reports `AlreadyFinished`
/// with the record as it is, and changes nothing.
///
/// # Errors
///
/// What differed.
pub async fn second_finish_changes_nothing<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let image = new_image(77, "twice.png");
    catalog.create(&owner, &image).await.map_err(op("create"))?;
    let ready = ready_outcome(image.id);
    let at = now_ms();
    expect_finish(catalog.finish(&owner, image.id, &ready, at).await, "the first finish")?;
    let done = finished(&owner, &image, ready.clone(), at);

    let rejected = Outcome::Rejected { reason: RejectReason::Corrupt, message: "late".into() };
    let second = catalog.finish(&owner, image.id, &rejected, at + 5).await;
    same(
        &second,
        &Ok(Finish::AlreadyFinished(Box::new(done.clone()))),
        "a second finish with another outcome",
    )?;
    let third = catalog.finish(&owner, image.id, &ready, at + 9).await;
    same(&third, &Ok(Finish::AlreadyFinished(Box::new(done.clone()))), "a repeated finish")?;
    same(&get(catalog, &owner, image.id).await?, &Some(done), "the image after")?;
    Ok(())
}

/// A failed image (our code could not process it) is finished but not final: its expiry goes
/// (the upload is kept), a retry may fail it again, and a later delivery makes it ready, after
/// which it is final like any other.
///
/// # Errors
///
/// What differed.
pub async fn a_failed_image_takes_a_later_outcome<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let image = new_image(99, "hard.jpg");
    catalog.create(&owner, &image).await.map_err(op("create"))?;
    let failed = Outcome::Failed { reason: FailReason::InternalError, message: "ours".into() };
    let at = now_ms();
    expect_finish(catalog.finish(&owner, image.id, &failed, at).await, "failing it")?;
    let after = get(catalog, &owner, image.id).await?.ok_or("the failed image is missing")?;
    same(&after, &finished(&owner, &image, failed.clone(), at), "the failed record")?;
    same(&after.expires_at_s, &None, "the failed image's expiry")?;
    expect_finish(catalog.finish(&owner, image.id, &failed, at + 1).await, "failing it again")?;

    let ready = ready_outcome(image.id);
    expect_finish(catalog.finish(&owner, image.id, &ready, at + 2).await, "the replay's finish")?;
    let done = finished(&owner, &image, ready, at + 2);
    same(&get(catalog, &owner, image.id).await?, &Some(done.clone()), "the image once ready")?;
    let late = catalog.finish(&owner, image.id, &failed, at + 3).await;
    same(&late, &Ok(Finish::AlreadyFinished(Box::new(done))), "a failure after it is ready")?;
    same(&profile(catalog, &owner).await?, &Profile { images: 1, bytes: 99, albums: 0 }, "the profile")?;
    Ok(())
}

/// Finishing an image deleted meanwhile (or never created) reports `Missing` and creates no
/// item: the delete-versus-thumbnail race.
///
/// # Errors
///
/// What differed.
pub async fn finish_after_delete_creates_nothing<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let image = new_image(64, "gone.jpg");
    catalog.create(&owner, &image).await.map_err(op("create"))?;
    let deleted = catalog.delete(&owner, image.id).await.map_err(op("delete"))?;
    same(&deleted, &Some(pending(&owner, &image)), "the deleted record")?;
    let finish = catalog.finish(&owner, image.id, &ready_outcome(image.id), now_ms()).await;
    same(&finish, &Ok(Finish::Missing), "finishing a deleted image")?;
    same(&get(catalog, &owner, image.id).await?, &None, "the deleted image after finishing")?;
    same(&list(catalog, &owner, 10, None).await?, &Page::default(), "the list after")?;
    same(&profile(catalog, &owner).await?, &Profile::default(), "the profile after")?;

    let never = Uuid::now_v7();
    let rejected = Outcome::Rejected { reason: RejectReason::Empty, message: "empty".into() };
    same(
        &catalog.finish(&owner, never, &rejected, now_ms()).await,
        &Ok(Finish::Missing),
        "finishing an unknown id",
    )?;
    same(&get(catalog, &owner, never).await?, &None, "the unknown id after finishing")?;
    let stranger = fresh_owner()?;
    same(&catalog.finish(&stranger, never, &rejected, now_ms()).await, &Ok(Finish::Missing), "a new owner")?;
    same(&list(catalog, &stranger, 10, None).await?, &Page::default(), "the new owner's list")?;
    same(&profile(catalog, &stranger).await?, &Profile::default(), "the new owner's profile")?;
    Ok(())
}

/// Deleting returns the record as it was (finished or pending), then the image is gone, a
/// second delete is `None`, and the counts go up and down exactly.
///
/// # Errors
///
/// What differed.
pub async fn delete_returns_the_record_and_counts_follow<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let images = [new_image(100, "one.jpg"), new_image(2_000, "two.jpg"), new_image(30_000, "three.jpg")];
    for image in &images {
        catalog.create(&owner, image).await.map_err(op("create"))?;
    }
    same(
        &profile(catalog, &owner).await?,
        &Profile { images: 3, bytes: 32_100, albums: 0 },
        "after 3 creates",
    )?;

    let [first, second, third] = &images;
    let ready = ready_outcome(second.id);
    let at = now_ms();
    expect_finish(catalog.finish(&owner, second.id, &ready, at).await, "finishing the second")?;
    let deleted = catalog.delete(&owner, second.id).await.map_err(op("delete"))?;
    same(&deleted, &Some(finished(&owner, second, ready, at)), "the deleted (finished) record")?;
    same(&get(catalog, &owner, second.id).await?, &None, "the deleted image")?;
    same(&catalog.delete(&owner, second.id).await, &Ok(None), "a second delete")?;
    same(
        &profile(catalog, &owner).await?,
        &Profile { images: 2, bytes: 30_100, albums: 0 },
        "after 1 delete",
    )?;
    same(&catalog.delete(&owner, Uuid::now_v7()).await, &Ok(None), "deleting an unknown id")?;
    same(
        &profile(catalog, &owner).await?,
        &Profile { images: 2, bytes: 30_100, albums: 0 },
        "after the unknown delete",
    )?;
    let page = list(catalog, &owner, 10, None).await?;
    let want = Page { items: vec![pending(&owner, third), pending(&owner, first)], next: None };
    same(&page, &want, "the list after")?;

    for image in [first, third] {
        let deleted = catalog.delete(&owner, image.id).await.map_err(op("delete"))?;
        same(&deleted, &Some(pending(&owner, image)), "a deleted pending record")?;
    }
    same(
        &profile(catalog, &owner).await?,
        &Profile { images: 0, bytes: 0, albums: 0 },
        "after deleting all",
    )?;
    Ok(())
}

/// 20 concurrent creates count exactly; 10 concurrent deletes too; five concurrent deletes of
/// one image delete it once.
///
/// # Errors
///
/// What differed.
pub async fn concurrent_creates_and_deletes_count_exactly<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let images: Vec<NewImage> = (1..=20).map(|i| new_image(i * 1_000 + 7, &format!("c{i}.jpg"))).collect();
    let created = join_all(images.iter().map(|image| catalog.create(&owner, image))).await;
    for (image, result) in images.iter().zip(created) {
        result.map_err(|e| format!("creating {}: {e}", image.id))?;
    }
    let total: u64 = images.iter().map(|image| image.size).sum();
    same(
        &profile(catalog, &owner).await?,
        &Profile { images: 20, bytes: total, albums: 0 },
        "after 20 concurrent creates",
    )?;
    same(&list(catalog, &owner, MAX_PAGE, None).await?.items.len(), &20, "listed after the creates")?;

    let (gone, kept) = images.split_at(10);
    let deleted = join_all(gone.iter().map(|image| catalog.delete(&owner, image.id))).await;
    for (image, result) in gone.iter().zip(deleted) {
        let record = result.map_err(|e| format!("deleting {}: {e}", image.id))?;
        same(&record, &Some(pending(&owner, image)), "a concurrently deleted record")?;
    }
    let left: u64 = kept.iter().map(|image| image.size).sum();
    same(
        &profile(catalog, &owner).await?,
        &Profile { images: 10, bytes: left, albums: 0 },
        "after 10 concurrent deletes",
    )?;

    let target = kept.first().ok_or("no image left")?;
    let racing = join_all((0..5).map(|_| catalog.delete(&owner, target.id))).await;
    let mut winners = 0;
    for result in racing {
        if result.map_err(|e| format!("a racing delete: {e}"))?.is_some() {
            winners += 1;
        }
    }
    same(&winners, &1, "racing deletes of one image that returned it")?;
    let left = left - target.size;
    same(
        &profile(catalog, &owner).await?,
        &Profile { images: 9, bytes: left, albums: 0 },
        "after the racing deletes",
    )?;
    Ok(())
}

/// A finish racing a delete never leaves an item behind, and the two agree on the order: when
/// the finish won, the delete returned the finished record; when the delete won, the finish
/// reports `Missing`.
///
/// # Errors
///
/// What differed.
pub async fn finish_racing_delete_leaves_nothing<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    for round in 0..5 {
        let image = new_image(10 + round, "race.jpg");
        catalog.create(&owner, &image).await.map_err(op("create"))?;
        let ready = ready_outcome(image.id);
        let at = now_ms();
        let (finish, deleted) = futures_util::future::join(
            catalog.finish(&owner, image.id, &ready, at),
            catalog.delete(&owner, image.id),
        )
        .await;
        let finish = finish.map_err(op("finish"))?;
        let deleted = deleted.map_err(op("delete"))?;
        match finish {
            Finish::Finished => same(
                &deleted,
                &Some(finished(&owner, &image, ready, at)),
                &format!("round {round}: the record deleted after the finish"),
            )?,
            Finish::Missing => same(
                &deleted,
                &Some(pending(&owner, &image)),
                &format!("round {round}: the record deleted before the finish"),
            )?,
            other @ Finish::AlreadyFinished(_) => {
                return Err(format!("round {round}: finish gave {other:?}"));
            }
        }
        same(&get(catalog, &owner, image.id).await?, &None, &format!("round {round}: the image after"))?;
    }
    same(&profile(catalog, &owner).await?, &Profile::default(), "the profile after the races")?;
    Ok(())
}

/// Page sizes outside 1..=100 are refused with `InvalidRequest`.
///
/// # Errors
///
/// What differed.
pub async fn page_size_is_checked<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    for bad in [0, MAX_PAGE + 1] {
        match catalog.list(&owner, bad, None).await {
            Err(CatalogError::InvalidRequest { .. }) => {}
            other => return Err(format!("list with limit {bad} gave {other:?}, not InvalidRequest")),
        }
    }
    same(&list(catalog, &owner, MAX_PAGE, None).await?, &Page::default(), "list with the largest page size")?;
    Ok(())
}

/// A new owner nobody has used: `contract-<uuidv7>`.
/// Each quota refuses the create that would exceed it, naming it, and changes nothing; the
/// daily ones start again the next UTC day; deleting a photo frees stored room.
///
/// # Errors
///
/// What differed.
pub async fn quotas_refuse_what_would_exceed_them_and_change_nothing<C: Catalog>(
    catalog: &C,
) -> Result<(), String> {
    let owner = fresh_owner()?;
    let quotas = Quotas { uploads_per_day: 3, bytes_per_day: 100, photos_stored: 5, bytes_stored: 150 };
    // Noon of a UTC day, so a day later is the next day.
    let day = now_ms() / DAY_MS * DAY_MS + DAY_MS / 2;
    let at = |size: u64, at_ms: u64| NewImage { created_at_ms: at_ms, ..new_image(size, "q.jpg") };
    let refused = |result: Result<(), CatalogError>, quota: Quota, limit: u64, what: &str| match result {
        Err(CatalogError::QuotaExceeded { quota: q, limit: l }) if (q, l) == (quota, limit) => Ok(()),
        other => Err(format!("{what}: expected {quota:?} ({limit}), got {other:?}")),
    };
    for i in 0..3 {
        catalog.create_within(&owner, &at(10, day + i), &quotas).await.map_err(op("create_within"))?;
    }
    refused(
        catalog.create_within(&owner, &at(10, day + 3), &quotas).await,
        Quota::UploadsPerDay,
        3,
        "a 4th upload",
    )?;
    let usage = Usage { photos: 3, bytes: 30, uploads_today: 3, bytes_today: 30 };
    same(&catalog.usage(&owner, day).await.map_err(op("usage"))?, &usage, "usage after the refusal")?;
    same(
        &catalog.usage(&owner, day + DAY_MS).await.map_err(op("usage"))?,
        &Usage { uploads_today: 0, bytes_today: 0, ..usage },
        "the next day's usage",
    )?;
    same(&list(catalog, &owner, MAX_PAGE, None).await?.items.len(), &3, "images after the refusal")?;

    // The next day: the daily counts start again; 95 bytes would take the day past 100.
    let next = day + DAY_MS;
    catalog.create_within(&owner, &at(10, next), &quotas).await.map_err(op("create_within"))?;
    refused(
        catalog.create_within(&owner, &at(95, next + 1), &quotas).await,
        Quota::BytesPerDay,
        100,
        "95 bytes more",
    )?;
    refused(
        catalog.create_within(&owner, &at(101, next + 2), &quotas).await,
        Quota::BytesPerDay,
        100,
        "101 bytes",
    )?;
    catalog.create_within(&owner, &at(90, next + 3), &quotas).await.map_err(op("create_within"))?;
    // 5 photos, 130 bytes: the photo quota is reached; once one of 10 bytes is deleted, 120
    // bytes are stored and 31 more would pass 150.
    let third = day + 2 * DAY_MS;
    refused(
        catalog.create_within(&owner, &at(1, third), &quotas).await,
        Quota::PhotosStored,
        5,
        "a 6th photo",
    )?;
    let first =
        list(catalog, &owner, MAX_PAGE, None).await?.items.last().map(|image| image.id).ok_or("no image")?;
    catalog.delete(&owner, first).await.map_err(op("delete"))?;
    refused(
        catalog.create_within(&owner, &at(31, third), &quotas).await,
        Quota::BytesStored,
        150,
        "31 bytes more",
    )?;
    catalog.create_within(&owner, &at(30, third), &quotas).await.map_err(op("create_within"))?;
    same(
        &catalog.usage(&owner, third).await.map_err(op("usage"))?,
        &Usage { photos: 5, bytes: 150, uploads_today: 1, bytes_today: 30 },
        "usage on the third day",
    )?;
    // Without quotas, `create` counts too.
    catalog.create(&owner, &at(1, third)).await.map_err(op("create"))?;
    same(&profile(catalog, &owner).await?.images, &6, "photos after an unlimited create")?;
    Ok(())
}

/// Concurrent creates at the edge of a quota: exactly as many succeed as the quota allows, the
/// others are refused, and the counts match what was created.
///
/// # Errors
///
/// What differed.
pub async fn concurrent_creates_at_a_quota_never_exceed_it<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let quotas = Quotas { uploads_per_day: 5, ..Quotas::UNLIMITED };
    let at_ms = now_ms();
    let images: Vec<NewImage> =
        (0..12).map(|i| NewImage { created_at_ms: at_ms, ..new_image(100 + i, "race.jpg") }).collect();
    let results = join_all(images.iter().map(|image| catalog.create_within(&owner, image, &quotas))).await;
    let mut created = 0;
    let mut bytes = 0;
    for (image, result) in images.iter().zip(results) {
        match result {
            Ok(()) => {
                created += 1;
                bytes += image.size;
            }
            Err(CatalogError::QuotaExceeded { quota: Quota::UploadsPerDay, limit: 5 }) => {}
            Err(e) => return Err(format!("creating {}: {e}", image.id)),
        }
    }
    same(&created, &5, "creates that succeeded")?;
    same(
        &catalog.usage(&owner, at_ms).await.map_err(op("usage"))?,
        &Usage { photos: 5, bytes, uploads_today: 5, bytes_today: bytes },
        "usage after the race",
    )?;
    same(&list(catalog, &owner, MAX_PAGE, None).await?.items.len(), &5, "images after the race")?;
    Ok(())
}

fn fresh_owner() -> Result<Owner, String> {
    Owner::new(format!("contract-{}", Uuid::now_v7())).map_err(|e| e.to_string())
}

fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// A new image with a fresh id, expiring in a day (so no TTL sweep takes it mid-check).
fn new_image(size: u64, filename: &str) -> NewImage {
    let created_at_ms = now_ms();
    NewImage {
        id: Uuid::now_v7(),
        filename: filename.to_owned(),
        content_type: "image/jpeg".to_owned(),
        size,
        created_at_ms,
        expires_at_s: created_at_ms / 1000 + 86_400,
    }
}

fn ready_outcome(id: Uuid) -> Outcome {
    let rendition = |size: u32, format: OutputFormat, ext: &str, bytes: u64| Rendition {
        key: format!("thumbs/{id}/{size}.{ext}"),
        size,
        width: size,
        height: size * 3 / 4,
        format,
        bytes,
    };
    Outcome::Ready {
        placeholder: Some(thumbforge_core::manifest::Placeholder {
            color: "#8a7f6e".into(),
            blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj".into(),
        }),
        source: Source { format: InputFormat::Jpeg, width: 4032, height: 3024, bytes: 3_456_789 },
        renditions: vec![
            rendition(1024, OutputFormat::Jpeg, "jpg", 180_000),
            rendition(1024, OutputFormat::Webp, "webp", 120_000),
            rendition(256, OutputFormat::Jpeg, "jpg", 18_000),
        ],
    }
}

/// What `get` must return for a pending image.
fn pending(owner: &Owner, image: &NewImage) -> ImageRecord {
    ImageRecord {
        id: image.id,
        owner: owner.as_str().to_owned(),
        filename: image.filename.clone(),
        content_type: image.content_type.clone(),
        size: image.size,
        created_at_ms: image.created_at_ms,
        finished_at_ms: None,
        expires_at_s: Some(image.expires_at_s),
        state: ImageState::Pending,
        details: Details::default(),
        revision: 0,
        albums: Vec::new(),
    }
}

/// What `get` must return for a finished image.
fn finished(owner: &Owner, image: &NewImage, outcome: Outcome, at: u64) -> ImageRecord {
    ImageRecord {
        finished_at_ms: Some(at),
        expires_at_s: None,
        state: ImageState::Finished(outcome),
        ..pending(owner, image)
    }
}

async fn get<C: Catalog>(catalog: &C, owner: &Owner, id: Uuid) -> Result<Option<ImageRecord>, String> {
    catalog.get(owner, id).await.map_err(op("get"))
}

async fn list<C: Catalog>(
    catalog: &C,
    owner: &Owner,
    limit: u16,
    after: Option<Uuid>,
) -> Result<Page, String> {
    catalog.list(owner, limit, after).await.map_err(op("list"))
}

async fn profile<C: Catalog>(catalog: &C, owner: &Owner) -> Result<Profile, String> {
    catalog.profile(owner).await.map_err(op("profile"))
}

fn expect_finish(result: Result<Finish, CatalogError>, what: &str) -> Result<(), String> {
    match result {
        Ok(Finish::Finished) => Ok(()),
        other => Err(format!("{what}: {other:?}, not Finished")),
    }
}

/// Turns an unexpected error into the check's failure.
fn op(operation: &'static str) -> impl Fn(CatalogError) -> String {
    move |e| format!("{operation} failed: {e}")
}

fn same<T: PartialEq + Debug>(actual: &T, expected: &T, what: &str) -> Result<(), String> {
    ensure!(actual == expected, "{what}:\n  got      {actual:?}\n  expected {expected:?}");
    Ok(())
}

/// An expired upload released twice (the stream delivered its removal twice) is subtracted from
/// the profile once; another image's counts stay.
///
/// # Errors
///
/// What differed.
pub async fn release_expired_subtracts_once<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let (expired, kept) = (new_image(300, "never-uploaded.jpg"), new_image(4_000, "kept.png"));
    catalog.create(&owner, &expired).await.map_err(op("create"))?;
    catalog.create(&owner, &kept).await.map_err(op("create"))?;
    let now_s = expired.created_at_ms / 1000;
    let first =
        catalog.release_expired(&owner, expired.id, expired.size, now_s).await.map_err(op("release"))?;
    ensure!(first, "the first release reported nothing released");
    let again =
        catalog.release_expired(&owner, expired.id, expired.size, now_s).await.map_err(op("release"))?;
    ensure!(!again, "a repeated release reported a second subtraction");
    let profile = catalog.profile(&owner).await.map_err(op("profile"))?;
    ensure!(
        profile == Profile { images: 1, bytes: kept.size, albums: 0 },
        "profile after releasing one of two images twice: {profile:?}"
    );
    Ok(())
}

fn tags(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| (*t).to_owned()).collect()
}

/// The ids `list_tagged` gives for `tag`, all pages of 2.
async fn tagged_ids<C: Catalog>(catalog: &C, owner: &Owner, tag: &str) -> Result<Vec<Uuid>, String> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = catalog.list_tagged(owner, tag, 2, after).await.map_err(op("list_tagged"))?;
        ids.extend(page.items.iter().map(|r| r.id));
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(ids),
        }
    }
}

/// An edit sets, replaces and clears each field independently; the tags' index follows every
/// change; an unknown image is `None` and nothing is created; an edit that is not normalised is
/// refused.
///
/// # Errors
///
/// What differed.
pub async fn edits_set_and_clear_details_and_keep_the_tag_index<C: Catalog>(
    catalog: &C,
) -> Result<(), String> {
    let owner = fresh_owner()?;
    let image = new_image(10, "beach.jpg");
    catalog.create(&owner, &image).await.map_err(op("create"))?;
    let first = Edit {
        title: Some(Some("Sunset".into())),
        description: Some(Some("At the beach\nlate".into())),
        tags: Some(tags(&["beach", "sea"])),
    };
    let edited = catalog.edit(&owner, image.id, &first).await.map_err(op("edit"))?;
    let expected = Details {
        title: Some("Sunset".into()),
        description: Some("At the beach\nlate".into()),
        tags: tags(&["beach", "sea"]),
    };
    ensure!(edited.as_ref().map(|r| &r.details) == Some(&expected), "after the first edit: {edited:?}");
    let read = catalog.get(&owner, image.id).await.map_err(op("get"))?;
    ensure!(read == edited, "get after edit: {read:?}, edit returned {edited:?}");
    ensure!(
        read.as_ref().is_some_and(|r| r.state == ImageState::Pending),
        "the status is untouched: {read:?}"
    );
    ensure!(tagged_ids(catalog, &owner, "sea").await? == [image.id], "indexed under sea");

    // Only the tags change; title and description stay.
    let second = Edit { tags: Some(tags(&["beach", "sunset"])), ..Edit::default() };
    let edited = catalog.edit(&owner, image.id, &second).await.map_err(op("edit"))?;
    let details = edited.map(|r| r.details);
    ensure!(
        details == Some(Details { tags: tags(&["beach", "sunset"]), ..expected.clone() }),
        "after replacing the tags: {details:?}"
    );
    ensure!(tagged_ids(catalog, &owner, "sea").await?.is_empty(), "no longer under sea");
    ensure!(tagged_ids(catalog, &owner, "sunset").await? == [image.id], "now under sunset");

    // Clearing everything.
    let clear = Edit { title: Some(None), description: Some(None), tags: Some(Vec::new()) };
    let cleared = catalog.edit(&owner, image.id, &clear).await.map_err(op("edit"))?;
    ensure!(cleared.as_ref().map(|r| &r.details) == Some(&Details::default()), "cleared: {cleared:?}");
    ensure!(tagged_ids(catalog, &owner, "beach").await?.is_empty(), "no tag left");

    // A finished image keeps its details through the outcome, and the outcome through edits.
    catalog.edit(&owner, image.id, &first).await.map_err(op("edit"))?;
    catalog.finish(&owner, image.id, &ready_outcome(image.id), 99).await.map_err(op("finish"))?;
    let done = catalog.get(&owner, image.id).await.map_err(op("get"))?;
    ensure!(done.as_ref().is_some_and(|r| r.details == expected && r.state.status() == "ready"), "{done:?}");

    let unknown = catalog.edit(&owner, Uuid::now_v7(), &first).await.map_err(op("edit"))?;
    ensure!(unknown.is_none(), "an unknown image was edited: {unknown:?}");
    let other = fresh_owner()?;
    let theirs = catalog.edit(&other, image.id, &first).await.map_err(op("edit"))?;
    ensure!(theirs.is_none(), "another owner edited the image: {theirs:?}");
    ensure!(tagged_ids(catalog, &other, "beach").await?.is_empty(), "nothing indexed for the other owner");

    let unnormalised = Edit { tags: Some(tags(&["Sea"])), ..Edit::default() };
    let refused = catalog.edit(&owner, image.id, &unnormalised).await;
    ensure!(matches!(refused, Err(CatalogError::InvalidRequest { .. })), "an unnormalised tag: {refused:?}");
    let unsorted = Edit { tags: Some(tags(&["sea", "beach"])), ..Edit::default() };
    let refused = catalog.edit(&owner, image.id, &unsorted).await;
    ensure!(matches!(refused, Err(CatalogError::InvalidRequest { .. })), "unsorted tags: {refused:?}");

    // Deleting the image deletes its index items too.
    catalog.delete(&owner, image.id).await.map_err(op("delete"))?;
    ensure!(tagged_ids(catalog, &owner, "beach").await?.is_empty(), "a deleted image is still tagged");
    Ok(())
}

/// The images with a tag, newest first, in pages whose cursor stays in the owner's partition
/// and in the tag.
///
/// # Errors
///
/// What differed.
pub async fn tagged_listing_pages_newest_first_inside_the_partition<C: Catalog>(
    catalog: &C,
) -> Result<(), String> {
    let (owner, other) = (fresh_owner()?, fresh_owner()?);
    let mut cats = Vec::new();
    for i in 0..5 {
        let image = new_image(100 + i, &format!("{i}.jpg"));
        catalog.create(&owner, &image).await.map_err(op("create"))?;
        // Every other image is a cat; all are pets.
        let tag_list: &[&str] = if i % 2 == 0 { &["cat", "pet"] } else { &["pet"] };
        let edit = Edit { tags: Some(tags(tag_list)), ..Edit::default() };
        catalog.edit(&owner, image.id, &edit).await.map_err(op("edit"))?;
        if i % 2 == 0 {
            cats.push(image.id);
        }
    }
    let theirs = new_image(5, "theirs.jpg");
    catalog.create(&other, &theirs).await.map_err(op("create"))?;
    catalog
        .edit(&other, theirs.id, &Edit { tags: Some(tags(&["cat"])), ..Edit::default() })
        .await
        .map_err(op("edit"))?;
    cats.reverse();
    let listed = tagged_ids(catalog, &owner, "cat").await?;
    ensure!(listed == cats, "cats newest first: {listed:?}, expected {cats:?}");
    ensure!(tagged_ids(catalog, &owner, "pet").await?.len() == 5, "five pets");
    ensure!(tagged_ids(catalog, &owner, "dog").await?.is_empty(), "no dog");
    // The other owner's cat as a cursor moves through this owner's cats only.
    let page = catalog.list_tagged(&owner, "cat", 10, Some(theirs.id)).await.map_err(op("list_tagged"))?;
    ensure!(page.items.iter().all(|r| r.owner == owner.as_str()), "another partition reached: {page:?}");
    ensure!(tagged_ids(catalog, &other, "cat").await? == [theirs.id], "the other owner's own cat");
    // Pages carry whole records.
    let first = catalog.list_tagged(&owner, "cat", 1, None).await.map_err(op("list_tagged"))?;
    ensure!(
        first.items.len() == 1
            && first.items[0].details.tags == tags(&["cat", "pet"])
            && first.next.is_some(),
        "the first page: {first:?}"
    );
    let refused = catalog.list_tagged(&owner, "cat", 0, None).await;
    ensure!(matches!(refused, Err(CatalogError::InvalidRequest { .. })), "limit 0: {refused:?}");
    Ok(())
}

/// Edits of one image at the same time, and a delete racing them: every edit that reports
/// success was applied in some order, the item ends holding one of them whole, and the tag
/// index holds exactly the item's tags (or nothing, once deleted).
///
/// # Errors
///
/// What differed.
pub async fn concurrent_edits_and_a_delete_leave_one_consistent_state<C: Catalog>(
    catalog: &C,
) -> Result<(), String> {
    let owner = fresh_owner()?;
    let image = new_image(42, "contested.jpg");
    catalog.create(&owner, &image).await.map_err(op("create"))?;
    // Five at once: each write that loses a race reads again and retries, and the catalog tries
    // a write at most six times, so five always get through.
    let edits: Vec<Edit> = (0..5)
        .map(|i| Edit {
            title: Some(Some(format!("title {i}"))),
            tags: Some(tags(&[&format!("t{i}"), "x"])),
            ..Edit::default()
        })
        .collect();
    let results = join_all(edits.iter().map(|edit| catalog.edit(&owner, image.id, edit))).await;
    for result in &results {
        ensure!(matches!(result, Ok(Some(_))), "a concurrent edit failed: {result:?}");
    }
    let record = catalog.get(&owner, image.id).await.map_err(op("get"))?.ok_or("the image is gone")?;
    let winner = edits
        .iter()
        .find(|e| e.title == Some(record.details.title.clone()))
        .ok_or_else(|| format!("the title is none of the edits': {:?}", record.details))?;
    ensure!(
        Some(&record.details.tags) == winner.tags.as_ref(),
        "title and tags of different edits: {:?}",
        record.details
    );
    ensure!(record.revision == 5, "five edits, revision {}", record.revision);
    for i in 0..5 {
        let tag = format!("t{i}");
        let indexed = tagged_ids(catalog, &owner, &tag).await?;
        let expected = if record.details.tags.contains(&tag) { vec![image.id] } else { Vec::new() };
        ensure!(indexed == expected, "{tag}: indexed {indexed:?}, the item has {:?}", record.details.tags);
    }

    // A delete racing more edits: afterwards nothing is left, whatever order they ran in.
    let more: Vec<Edit> =
        (0..4).map(|i| Edit { tags: Some(tags(&[&format!("late{i}")])), ..Edit::default() }).collect();
    let (deleted, edited) = futures_util::future::join(
        catalog.delete(&owner, image.id),
        join_all(more.iter().map(|e| catalog.edit(&owner, image.id, e))),
    )
    .await;
    ensure!(matches!(deleted, Ok(Some(_))), "the delete: {deleted:?}");
    for result in &edited {
        ensure!(result.is_ok(), "an edit racing the delete failed: {result:?}");
    }
    ensure!(
        catalog.get(&owner, image.id).await.map_err(op("get"))?.is_none(),
        "the image survived its delete"
    );
    for tag in ["x", "late0", "late1", "late2", "late3"] {
        let left = tagged_ids(catalog, &owner, tag).await?;
        ensure!(left.is_empty(), "{tag} still indexed after the delete: {left:?}");
    }
    Ok(())
}

fn new_album(name: &str) -> NewAlbum {
    NewAlbum { id: Uuid::now_v7(), name: name.to_owned(), created_at_ms: now_ms() }
}

async fn create_album<C: Catalog>(catalog: &C, owner: &Owner, name: &str) -> Result<Album, String> {
    catalog.create_album(owner, &new_album(name)).await.map_err(op("create_album"))
}

async fn add<C: Catalog>(catalog: &C, owner: &Owner, album: Uuid, image: Uuid) -> Result<Membership, String> {
    catalog.add_to_album(owner, album, image).await.map_err(op("add_to_album"))
}

/// The ids `list_album` gives, all pages of 2.
async fn album_ids<C: Catalog>(
    catalog: &C,
    owner: &Owner,
    album: Uuid,
    tag: Option<&str>,
) -> Result<Option<Vec<Uuid>>, String> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let Some(page) = catalog.list_album(owner, album, tag, 2, after).await.map_err(op("list_album"))?
        else {
            return Ok(None);
        };
        ids.extend(page.items.iter().map(|r| r.id));
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(Some(ids)),
        }
    }
}

/// Every album of the owner's lists `image` exactly when the image names it in `albums`.
async fn memberships_match<C: Catalog>(catalog: &C, owner: &Owner, image: Uuid) -> Result<(), String> {
    let record = get(catalog, owner, image).await?;
    let named = record.as_ref().map(|r| r.albums.clone()).unwrap_or_default();
    let mut sorted = named.clone();
    sorted.sort_unstable();
    ensure!(sorted == named, "the image's albums are not sorted: {named:?}");
    for album in catalog.list_albums(owner).await.map_err(op("list_albums"))? {
        let listed = album_ids(catalog, owner, album.id, None).await?.unwrap_or_default().contains(&image);
        ensure!(
            listed == named.contains(&album.id),
            "album {}: lists the image {listed}, the image names it {}",
            album.id,
            named.contains(&album.id)
        );
    }
    Ok(())
}

/// Another owner's album is as missing as an album nobody has: get, list, rename, delete, add,
/// remove and its listing all say so, and nothing of it changes.
///
/// # Errors
///
/// What differed.
pub async fn albums_are_invisible_to_other_owners<C: Catalog>(catalog: &C) -> Result<(), String> {
    let (alice, bob) = (fresh_owner()?, fresh_owner()?);
    let album = create_album(catalog, &alice, "Alice's").await?;
    let photo = new_image(10, "a.jpg");
    catalog.create(&alice, &photo).await.map_err(op("create"))?;
    same(&add(catalog, &alice, album.id, photo.id).await?, &Membership::Added, "alice adds her photo")?;
    let theirs = new_image(20, "b.jpg");
    catalog.create(&bob, &theirs).await.map_err(op("create"))?;

    same(&catalog.get_album(&bob, album.id).await.map_err(op("get_album"))?, &None, "bob's get_album")?;
    same(&catalog.list_albums(&bob).await.map_err(op("list_albums"))?, &Vec::new(), "bob's list_albums")?;
    same(
        &catalog.rename_album(&bob, album.id, "Mine").await.map_err(op("rename_album"))?,
        &None,
        "bob's rename",
    )?;
    same(&catalog.delete_album(&bob, album.id).await.map_err(op("delete_album"))?, &false, "bob's delete")?;
    same(&add(catalog, &bob, album.id, theirs.id).await?, &Membership::NoAlbum, "bob adds to it")?;
    same(&add(catalog, &bob, album.id, photo.id).await?, &Membership::NoAlbum, "bob adds alice's photo")?;
    let removed =
        catalog.remove_from_album(&bob, album.id, photo.id).await.map_err(op("remove_from_album"))?;
    same(&removed, &Membership::NoAlbum, "bob removes from it")?;
    same(&album_ids(catalog, &bob, album.id, None).await?, &None, "bob lists it")?;
    // Alice's own album cannot take bob's photo either.
    same(&add(catalog, &alice, album.id, theirs.id).await?, &Membership::NoImage, "alice adds bob's photo")?;

    let after =
        catalog.get_album(&alice, album.id).await.map_err(op("get_album"))?.ok_or("alice's album is gone")?;
    same(&(after.name.as_str(), after.count), &("Alice's", 1), "alice's album after")?;
    same(&profile(catalog, &bob).await?.albums, &0, "bob's album count")?;
    same(&profile(catalog, &alice).await?.albums, &1, "alice's album count")?;
    Ok(())
}

/// An album is created empty, renamed, listed newest first with its count and cover; a photo
/// added twice is in it once; removing is idempotent; missing albums and photos are told apart.
///
/// # Errors
///
/// What differed.
pub async fn albums_hold_each_photo_once_and_count_it<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let first = create_album(catalog, &owner, "Summer").await?;
    same(&(first.count, first.cover.is_none()), &(0, true), "a new album is empty")?;
    let second = create_album(catalog, &owner, "Winter ❄").await?;
    let listed = catalog.list_albums(&owner).await.map_err(op("list_albums"))?;
    same(&listed, &vec![second.clone(), first.clone()], "the albums newest first")?;
    same(&profile(catalog, &owner).await?.albums, &2, "two albums counted")?;

    let (old, new) = (new_image(1, "old.jpg"), new_image(2, "new.jpg"));
    for image in [&old, &new] {
        catalog.create(&owner, image).await.map_err(op("create"))?;
    }
    same(&add(catalog, &owner, first.id, old.id).await?, &Membership::Added, "adding")?;
    same(&add(catalog, &owner, first.id, old.id).await?, &Membership::AlreadyMember, "adding twice")?;
    let album = catalog.get_album(&owner, first.id).await.map_err(op("get_album"))?.ok_or("no album")?;
    same(&album.count, &1, "one membership after adding twice")?;
    let record = get(catalog, &owner, old.id).await?.ok_or("the photo is gone")?;
    same(&record.albums, &vec![first.id], "the photo's albums")?;
    same(&album.cover.as_deref(), &Some(&record), "the cover")?;
    same(&add(catalog, &owner, first.id, new.id).await?, &Membership::Added, "adding the newer photo")?;
    let album = catalog.get_album(&owner, first.id).await.map_err(op("get_album"))?.ok_or("no album")?;
    same(&(album.count, album.cover.map(|c| c.id)), &(2, Some(new.id)), "count and cover: the newest")?;
    same(&album_ids(catalog, &owner, first.id, None).await?, &Some(vec![new.id, old.id]), "its photos")?;

    let renamed = catalog.rename_album(&owner, first.id, "Summer 2026").await.map_err(op("rename_album"))?;
    same(&renamed.as_ref().map(|a| (a.name.as_str(), a.count)), &Some(("Summer 2026", 2)), "renamed")?;
    let refused = catalog.rename_album(&owner, first.id, "  padded ").await;
    ensure!(matches!(refused, Err(CatalogError::InvalidRequest { .. })), "an untrimmed name: {refused:?}");
    let refused = catalog.create_album(&owner, &new_album("")).await;
    ensure!(matches!(refused, Err(CatalogError::InvalidRequest { .. })), "an empty name: {refused:?}");
    let unknown = Uuid::now_v7();
    same(
        &catalog.rename_album(&owner, unknown, "x").await.map_err(op("rename"))?,
        &None,
        "renaming nothing",
    )?;
    same(&catalog.get_album(&owner, unknown).await.map_err(op("get_album"))?, &None, "an unknown album")?;
    let again = catalog.create_album(&owner, &NewAlbum { name: "Again".into(), ..new_album("x") }).await;
    ensure!(again.is_ok(), "another album: {again:?}");
    let duplicate = NewAlbum { id: first.id, name: "Dup".into(), created_at_ms: 1 };
    let refused = catalog.create_album(&owner, &duplicate).await;
    ensure!(matches!(refused, Err(CatalogError::AlreadyExists { .. })), "a duplicate id: {refused:?}");

    same(&add(catalog, &owner, unknown, old.id).await?, &Membership::NoAlbum, "adding to no album")?;
    same(&add(catalog, &owner, first.id, Uuid::now_v7()).await?, &Membership::NoImage, "adding no photo")?;
    let remove = |album, image| catalog.remove_from_album(&owner, album, image);
    same(&remove(first.id, old.id).await.map_err(op("remove"))?, &Membership::Removed, "removing")?;
    same(&remove(first.id, old.id).await.map_err(op("remove"))?, &Membership::NotMember, "removing twice")?;
    same(&remove(unknown, old.id).await.map_err(op("remove"))?, &Membership::NoAlbum, "removing from none")?;
    same(&remove(first.id, Uuid::now_v7()).await.map_err(op("remove"))?, &Membership::NoImage, "no photo")?;
    same(&get(catalog, &owner, old.id).await?.map(|r| r.albums), &Some(Vec::new()), "the photo's albums")?;
    same(&album_ids(catalog, &owner, first.id, None).await?, &Some(vec![new.id]), "its photos after")?;
    memberships_match(catalog, &owner, old.id).await?;
    memberships_match(catalog, &owner, new.id).await?;
    Ok(())
}

/// Deleting an album keeps its photos (their `albums` no longer name it), uncounts it, and a
/// second delete finds nothing.
///
/// # Errors
///
/// What differed.
pub async fn deleting_an_album_keeps_its_photos<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let (gone, kept) =
        (create_album(catalog, &owner, "Gone").await?, create_album(catalog, &owner, "Kept").await?);
    let photos = [new_image(1, "1.jpg"), new_image(2, "2.jpg"), new_image(3, "3.jpg")];
    for photo in &photos {
        catalog.create(&owner, photo).await.map_err(op("create"))?;
        add(catalog, &owner, gone.id, photo.id).await?;
    }
    add(catalog, &owner, kept.id, photos[0].id).await?;
    ensure!(
        catalog.delete_album(&owner, gone.id).await.map_err(op("delete_album"))?,
        "the delete found nothing"
    );
    same(&catalog.get_album(&owner, gone.id).await.map_err(op("get_album"))?, &None, "the deleted album")?;
    same(&album_ids(catalog, &owner, gone.id, None).await?, &None, "the deleted album's listing")?;
    same(
        &catalog.delete_album(&owner, gone.id).await.map_err(op("delete_album"))?,
        &false,
        "a second delete",
    )?;
    same(&list(catalog, &owner, 10, None).await?.items.len(), &3, "the photos are kept")?;
    for (i, photo) in photos.iter().enumerate() {
        let albums = get(catalog, &owner, photo.id).await?.map(|r| r.albums);
        let want = if i == 0 { vec![kept.id] } else { Vec::new() };
        same(&albums, &Some(want), "a photo's albums after the delete")?;
        memberships_match(catalog, &owner, photo.id).await?;
    }
    let albums = catalog.list_albums(&owner).await.map_err(op("list_albums"))?;
    same(
        &albums.iter().map(|a| (a.id, a.count)).collect::<Vec<_>>(),
        &vec![(kept.id, 1)],
        "the albums left",
    )?;
    same(&profile(catalog, &owner).await?.albums, &1, "the album count")?;
    Ok(())
}

/// Deleting a photo deletes its memberships (the albums' counts drop, their listings skip it)
/// and its tag index items with it.
///
/// # Errors
///
/// What differed.
pub async fn deleting_a_photo_removes_its_memberships<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let albums = [create_album(catalog, &owner, "A").await?, create_album(catalog, &owner, "B").await?];
    let (photo, other) = (new_image(5, "p.jpg"), new_image(6, "q.jpg"));
    for image in [&photo, &other] {
        catalog.create(&owner, image).await.map_err(op("create"))?;
        catalog
            .edit(&owner, image.id, &Edit { tags: Some(tags(&["sea"])), ..Edit::default() })
            .await
            .map_err(op("edit"))?;
    }
    for album in &albums {
        add(catalog, &owner, album.id, photo.id).await?;
    }
    add(catalog, &owner, albums[0].id, other.id).await?;
    let deleted = catalog.delete(&owner, photo.id).await.map_err(op("delete"))?.ok_or("nothing deleted")?;
    let mut want = vec![albums[0].id, albums[1].id];
    want.sort_unstable();
    same(&deleted.albums, &want, "the deleted record's albums")?;
    let counts: Vec<(Uuid, u64)> = catalog
        .list_albums(&owner)
        .await
        .map_err(op("list_albums"))?
        .iter()
        .map(|a| (a.id, a.count))
        .collect();
    same(&counts, &vec![(albums[1].id, 0), (albums[0].id, 1)], "the counts after")?;
    same(&album_ids(catalog, &owner, albums[0].id, None).await?, &Some(vec![other.id]), "album A")?;
    same(&album_ids(catalog, &owner, albums[1].id, None).await?, &Some(Vec::new()), "album B")?;
    same(&tagged_ids(catalog, &owner, "sea").await?, &vec![other.id], "the tag index")?;
    let cover = catalog.get_album(&owner, albums[1].id).await.map_err(op("get_album"))?.and_then(|a| a.cover);
    same(&cover, &None, "an emptied album's cover")?;
    Ok(())
}

/// Adds to several albums, edits and removes of one photo at once leave its `albums` matching
/// its memberships, every change that reported success applied; then a delete racing more adds
/// leaves no membership behind.
///
/// # Errors
///
/// What differed.
pub async fn concurrent_album_changes_leave_one_consistent_state<C: Catalog>(
    catalog: &C,
) -> Result<(), String> {
    let owner = fresh_owner()?;
    let photo = new_image(9, "busy.jpg");
    catalog.create(&owner, &photo).await.map_err(op("create"))?;
    let mut albums = Vec::new();
    for i in 0..6 {
        albums.push(create_album(catalog, &owner, &format!("album {i}")).await?.id);
    }
    add(catalog, &owner, albums[5], photo.id).await?;
    let edit = Edit { tags: Some(tags(&["busy"])), ..Edit::default() };
    let (adds, (edited, removed)) = futures_util::future::join(
        join_all(albums[..4].iter().map(|album| catalog.add_to_album(&owner, *album, photo.id))),
        futures_util::future::join(
            catalog.edit(&owner, photo.id, &edit),
            catalog.remove_from_album(&owner, albums[5], photo.id),
        ),
    )
    .await;
    for result in &adds {
        same(result, &Ok(Membership::Added), "a concurrent add")?;
    }
    ensure!(matches!(edited, Ok(Some(_))), "the concurrent edit: {edited:?}");
    same(&removed, &Ok(Membership::Removed), "the concurrent remove")?;
    let record = get(catalog, &owner, photo.id).await?.ok_or("the photo is gone")?;
    same(&record.albums, &albums[..4].to_vec(), "the photo's albums")?;
    same(&record.details.tags, &tags(&["busy"]), "the edit kept")?;
    memberships_match(catalog, &owner, photo.id).await?;

    let (deleted, late) = futures_util::future::join(
        catalog.delete(&owner, photo.id),
        futures_util::future::join(
            catalog.add_to_album(&owner, albums[4], photo.id),
            catalog.remove_from_album(&owner, albums[0], photo.id),
        ),
    )
    .await;
    ensure!(matches!(deleted, Ok(Some(_))), "the delete: {deleted:?}");
    ensure!(late.0.is_ok() && late.1.is_ok(), "changes racing the delete: {late:?}");
    for album in catalog.list_albums(&owner).await.map_err(op("list_albums"))? {
        same(&album.count, &0, &format!("album {}'s count after the photo's delete", album.name))?;
    }
    Ok(())
}

/// An album's photos newest first in pages of every size, cursors continuing exactly; with a
/// tag, only the photos carrying it, however sparse, pages still full.
///
/// # Errors
///
/// What differed.
pub async fn album_listing_pages_newest_first_with_a_tag_filter<C: Catalog>(
    catalog: &C,
) -> Result<(), String> {
    let owner = fresh_owner()?;
    let album = create_album(catalog, &owner, "Pets").await?;
    let mut all = Vec::new();
    let mut cats = Vec::new();
    for i in 0..7 {
        let image = new_image(i, &format!("{i}.jpg"));
        catalog.create(&owner, &image).await.map_err(op("create"))?;
        if i % 3 == 0 {
            let edit = Edit { tags: Some(tags(&["cat"])), ..Edit::default() };
            catalog.edit(&owner, image.id, &edit).await.map_err(op("edit"))?;
            cats.push(image.id);
        }
        // One photo stays outside the album.
        if i != 4 {
            add(catalog, &owner, album.id, image.id).await?;
            all.push(image.id);
        }
    }
    let outside = new_image(99, "cat-outside.jpg");
    catalog.create(&owner, &outside).await.map_err(op("create"))?;
    catalog
        .edit(&owner, outside.id, &Edit { tags: Some(tags(&["cat"])), ..Edit::default() })
        .await
        .map_err(op("edit"))?;
    all.reverse();
    cats.reverse();
    same(&album_ids(catalog, &owner, album.id, None).await?, &Some(all.clone()), "all, pages of 2")?;
    same(
        &album_ids(catalog, &owner, album.id, Some("cat")).await?,
        &Some(cats.clone()),
        "the cats, pages of 2",
    )?;
    same(&album_ids(catalog, &owner, album.id, Some("dog")).await?, &Some(Vec::new()), "no dog")?;
    for limit in 1..=7_u16 {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page =
                catalog.list_album(&owner, album.id, None, limit, after).await.map_err(op("list_album"))?;
            let page = page.ok_or("the album is gone")?;
            ensure!(
                page.items.len() == usize::from(limit) || page.next.is_none(),
                "limit {limit}: a short page with more to come: {page:?}"
            );
            seen.extend(page.items.iter().map(|r| r.id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        same(&seen, &all, &format!("limit {limit}: everything"))?;
    }
    let page = catalog.list_album(&owner, album.id, Some("cat"), 1, None).await.map_err(op("list_album"))?;
    let page = page.ok_or("the album is gone")?;
    same(&(page.items.len(), page.next), &(1, Some(cats[0])), "the first cat page")?;
    let refused = catalog.list_album(&owner, album.id, None, 0, None).await;
    ensure!(matches!(refused, Err(CatalogError::InvalidRequest { .. })), "limit 0: {refused:?}");
    same(&album_ids(catalog, &owner, Uuid::now_v7(), None).await?, &None, "an unknown album")?;
    Ok(())
}

/// At most `ALBUMS_MAX` albums per owner (`LimitReached`, nothing created) and
/// `ALBUMS_PER_PHOTO_MAX` albums per photo (`TooManyAlbums`); a photo in that many albums still
/// deletes in one go, and deleting an album makes room for another.
///
/// # Errors
///
/// What differed.
pub async fn album_limits_are_enforced<C: Catalog>(catalog: &C) -> Result<(), String> {
    let owner = fresh_owner()?;
    let photo = new_image(1, "popular.jpg");
    catalog.create(&owner, &photo).await.map_err(op("create"))?;
    let mut albums = Vec::new();
    for i in 0..ALBUMS_MAX {
        albums.push(create_album(catalog, &owner, &format!("album {i}")).await?.id);
    }
    let refused = catalog.create_album(&owner, &new_album("one too many")).await;
    same(&refused, &Err(CatalogError::LimitReached { what: "albums", limit: ALBUMS_MAX }), "album 201")?;
    same(&catalog.list_albums(&owner).await.map_err(op("list_albums"))?.len(), &ALBUMS_MAX, "listed albums")?;
    for album in &albums[..ALBUMS_PER_PHOTO_MAX] {
        same(&add(catalog, &owner, *album, photo.id).await?, &Membership::Added, "adding")?;
    }
    let over = add(catalog, &owner, albums[ALBUMS_PER_PHOTO_MAX], photo.id).await?;
    same(&over, &Membership::TooManyAlbums, "one album too many for the photo")?;
    let record = get(catalog, &owner, photo.id).await?.ok_or("the photo is gone")?;
    same(&record.albums.len(), &ALBUMS_PER_PHOTO_MAX, "the photo's albums")?;

    let deleted = catalog.delete(&owner, photo.id).await.map_err(op("delete"))?;
    same(&deleted.map(|r| r.albums.len()), &Some(ALBUMS_PER_PHOTO_MAX), "the deleted photo's albums")?;
    let album = catalog.get_album(&owner, albums[0]).await.map_err(op("get_album"))?;
    same(&album.map(|a| a.count), &Some(0), "an album of the deleted photo")?;

    ensure!(catalog.delete_album(&owner, albums[0]).await.map_err(op("delete_album"))?, "the album delete");
    same(&profile(catalog, &owner).await?.albums, &(ALBUMS_MAX as u64 - 1), "the album count")?;
    create_album(catalog, &owner, "room again").await?;
    Ok(())
}

/// An account's deletion: writes that create something are refused from its beginning, asking
/// again bumps its pass, the worker's calls empty the partition down to the tombstone, and the
/// finished tombstone stays deleted.
///
/// # Errors
///
/// What differed.
pub async fn account_deletion_refuses_writes_then_clears_everything<C: Catalog>(
    catalog: &C,
) -> Result<(), String> {
    let owner = fresh_owner()?;
    same(
        &catalog.account_state(&owner).await.map_err(op("account_state"))?,
        &AccountState::Active,
        "before",
    )?;
    let album = create_album(catalog, &owner, "Doomed").await?;
    let mut photos = Vec::new();
    for i in 0..5 {
        let image = new_image(i + 1, &format!("{i}.jpg"));
        catalog.create(&owner, &image).await.map_err(op("create"))?;
        catalog
            .edit(&owner, image.id, &Edit { tags: Some(tags(&["t"])), ..Edit::default() })
            .await
            .map_err(op("edit"))?;
        add(catalog, &owner, album.id, image.id).await?;
        photos.push(image);
    }
    let spare = create_album(catalog, &owner, "Spare").await?;
    catalog.release_expired(&owner, Uuid::now_v7(), 0, now_ms() / 1000).await.map_err(op("release"))?;

    let at = now_ms();
    let state = catalog.begin_account_deletion(&owner, "alice@example.com", at).await.map_err(op("begin"))?;
    let deleting =
        |pass| AccountState::Deleting { requested_at_ms: at, pass, username: "alice@example.com".into() };
    same(&state, &deleting(0), "the first begin")?;
    let state = catalog.begin_account_deletion(&owner, "other", at + 5).await.map_err(op("begin"))?;
    same(&state, &deleting(1), "asking again")?;
    same(&catalog.account_state(&owner).await.map_err(op("account_state"))?, &deleting(1), "the state")?;

    same(
        &catalog.create(&owner, &new_image(1, "late.jpg")).await,
        &Err(CatalogError::AccountDeleted),
        "create",
    )?;
    let edit = Edit { title: Some(Some("late".into())), ..Edit::default() };
    same(&catalog.edit(&owner, photos[0].id, &edit).await, &Err(CatalogError::AccountDeleted), "edit")?;
    same(
        &catalog.create_album(&owner, &new_album("late")).await,
        &Err(CatalogError::AccountDeleted),
        "create_album",
    )?;
    same(
        &catalog.add_to_album(&owner, spare.id, photos[0].id).await,
        &Err(CatalogError::AccountDeleted),
        "add_to_album",
    )?;
    same(&get(catalog, &owner, photos[0].id).await?.map(|r| r.details.title), &Some(None), "nothing edited")?;

    // The worker: the images (each with its files, through the stream), then everything else.
    let refused = catalog.account_images(&owner, 0).await;
    ensure!(matches!(refused, Err(CatalogError::InvalidRequest { .. })), "account_images(0): {refused:?}");
    let mut deleted = 0;
    loop {
        let batch = catalog.account_images(&owner, 2).await.map_err(op("account_images"))?;
        ensure!(batch.len() <= 2, "more images than asked for: {}", batch.len());
        if batch.is_empty() {
            break;
        }
        for image in batch {
            ensure!(
                catalog.delete(&owner, image.id).await.map_err(op("delete"))?.is_some(),
                "a listed image is gone"
            );
            deleted += 1;
        }
        ensure!(deleted <= photos.len(), "images listed again after their delete");
    }
    same(&deleted, &photos.len(), "images deleted")?;
    let mut rounds = 0;
    while catalog.clear_account(&owner, 3).await.map_err(op("clear_account"))? > 0 {
        rounds += 1;
        ensure!(rounds < 20, "clear_account never finishes");
    }
    same(&catalog.list_albums(&owner).await.map_err(op("list_albums"))?, &Vec::new(), "albums left")?;
    same(&profile(catalog, &owner).await?, &Profile::default(), "the profile left")?;
    same(&list(catalog, &owner, 10, None).await?, &Page::default(), "images left")?;
    same(&catalog.clear_account(&owner, 3).await.map_err(op("clear_account"))?, &0, "clearing again")?;

    let done = now_ms();
    ensure!(catalog.finish_account_deletion(&owner, done).await.map_err(op("finish"))?, "the finish");
    let finished = AccountState::Deleted { requested_at_ms: at, deleted_at_ms: done };
    same(&catalog.account_state(&owner).await.map_err(op("account_state"))?, &finished, "the state after")?;
    same(
        &catalog.finish_account_deletion(&owner, done + 1).await.map_err(op("finish")),
        &Ok(false),
        "again",
    )?;
    let again =
        catalog.begin_account_deletion(&owner, "alice@example.com", done + 2).await.map_err(op("begin"))?;
    same(&again, &finished, "beginning a finished deletion")?;
    same(
        &catalog.create(&owner, &new_image(1, "later.jpg")).await,
        &Err(CatalogError::AccountDeleted),
        "after",
    )?;
    same(
        &catalog.finish_account_deletion(&fresh_owner()?, done).await.map_err(op("finish")),
        &Ok(false),
        "none",
    )?;
    Ok(())
}

/// An album delete interrupted after marking the album (`interrupt` leaves it marked with its
/// memberships, as a crash after the first step would) completes on the next `delete_album`:
/// the album is invisible meanwhile and refuses new photos, and its photos end up outside it.
/// Not in [`CHECKS`]: only the implementation's own tests can interrupt it.
///
/// # Errors
///
/// What differed.
pub async fn interrupted_album_delete_completes<C, F, Fut>(catalog: &C, interrupt: F) -> Result<(), String>
where
    C: Catalog,
    F: FnOnce(Owner, Uuid) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let owner = fresh_owner()?;
    let album = create_album(catalog, &owner, "Interrupted").await?;
    let photos = [new_image(1, "1.jpg"), new_image(2, "2.jpg"), new_image(3, "3.jpg")];
    for photo in &photos {
        catalog.create(&owner, photo).await.map_err(op("create"))?;
        add(catalog, &owner, album.id, photo.id).await?;
    }
    let late = new_image(4, "late.jpg");
    catalog.create(&owner, &late).await.map_err(op("create"))?;
    interrupt(owner.clone(), album.id).await?;

    same(&catalog.get_album(&owner, album.id).await.map_err(op("get_album"))?, &None, "a deleting album")?;
    same(&catalog.list_albums(&owner).await.map_err(op("list_albums"))?, &Vec::new(), "listed albums")?;
    same(&add(catalog, &owner, album.id, late.id).await?, &Membership::NoAlbum, "adding to it")?;
    same(&catalog.rename_album(&owner, album.id, "x").await.map_err(op("rename"))?, &None, "renaming it")?;
    same(&album_ids(catalog, &owner, album.id, None).await?, &None, "listing it")?;
    // A photo deleted meanwhile leaves a membership item behind no longer.
    catalog.delete(&owner, photos[1].id).await.map_err(op("delete"))?;

    ensure!(catalog.delete_album(&owner, album.id).await.map_err(op("delete_album"))?, "the retried delete");
    same(&catalog.delete_album(&owner, album.id).await.map_err(op("delete_album"))?, &false, "once more")?;
    for photo in [&photos[0], &photos[2], &late] {
        same(
            &get(catalog, &owner, photo.id).await?.map(|r| r.albums),
            &Some(Vec::new()),
            "a photo's albums",
        )?;
    }
    same(&profile(catalog, &owner).await?.albums, &0, "the album count")?;
    Ok(())
}
