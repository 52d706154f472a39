//! `app::users::login` holds no database connection while argon2 runs.

use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::{PgConnection, RunQueryDsl};
use domain::national_id::IdKey;
use integration_tests::{TestDb, TEST_ID_KEY};

/// An argon2id hash that takes long to verify (many passes), so the test can look at the pool
/// while it runs.
fn slow_hash() -> String {
    let params = Params::new(19_456, 60, 1, None).unwrap();
    let salt = SaltString::encode_b64(b"rusreg-test-salt").unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params).hash_password(b"secret", &salt).unwrap().to_string()
}

#[test]
fn login_holds_no_connection_while_the_password_is_verified() {
    let db = TestDb::new();
    let pool: persistence::DbPool = Pool::builder()
        .max_size(1)
        .connection_timeout(Duration::from_millis(250))
        .build(ConnectionManager::<PgConnection>::new(db.url.clone()))
        .unwrap();
    let key = IdKey::from_bytes(&TEST_ID_KEY);
    let dummy = slow_hash();
    let start = Instant::now();
    let verifying = {
        let (pool, key, dummy) = (pool.clone(), key.clone(), dummy.clone());
        std::thread::spawn(move || app::users::login(&pool, &key, "nobody", "wrong", &dummy, None))
    };
    // While the unknown user's password is checked against the slow hash, the one connection
    // of the pool is free for everyone else.
    let mut served = 0;
    while !verifying.is_finished() {
        let Ok(mut conn) = pool.get() else { panic!("the pool's one connection is busy while argon2 runs") };
        diesel::sql_query("SELECT 1").execute(&mut conn).unwrap();
        served += 1;
        drop(conn);
        std::thread::sleep(Duration::from_millis(20));
    }
    let outcome = verifying.join().unwrap().unwrap();
    assert_eq!(outcome, app::users::Login::Failure);
    assert!(start.elapsed() > Duration::from_millis(300), "the slow hash was verified: {:?}", start.elapsed());
    assert!(served > 5, "{served} queries ran during the login");
}
