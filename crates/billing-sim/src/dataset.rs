//! The seeded dataset: Elastic organizations with deployments and projects, Talkdesk organizations
//! with accounts and monthly usage rows, and the credentials that read them.
//!
//! Only the shape is stored (who exists, what they run, when). Usage numbers are computed on demand
//! per (deployment, day) in [`crate::usage`], so a 1000-deployment organization costs nothing to build.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use billing_model::talkdesk::UsageAggregate;
use billing_model::{AccountId, DeploymentId, InstanceId, InstanceType, Month, OrganizationId, ResourceKind};

use crate::catalog::{self, Component, REGIONS};
use crate::config::Scale;

/// Mixes a value into a 64-bit hash (splitmix64's finalizer): the simulator's only source of
/// "randomness" for data, so every number is a pure function of the seed and its coordinates.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Hashes a list of coordinates.
pub(crate) fn hash(parts: &[u64]) -> u64 {
    parts.iter().fold(0x5EED_u64, |acc, p| mix(acc ^ p.wrapping_mul(0x2545_F491_4F6C_DD1D)))
}

/// A uniform number in `[0, 1)` from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    // The top 53 bits fit an f64 mantissa exactly.
    #[allow(clippy::cast_precision_loss)]
    let v = (h >> 11) as f64 / (1u64 << 53) as f64;
    v
}

/// Picks an element by hash.
fn pick<T: Clone>(items: &[T], h: u64) -> T {
    let len = u64::try_from(items.len()).unwrap_or(1).max(1);
    items[usize::try_from(h % len).unwrap_or(0)].clone()
}

fn hex(h1: u64, h2: u64, len: usize) -> String {
    let mut s = format!("{h1:016x}{h2:016x}");
    s.truncate(len);
    s
}

/// The first day of the calendar deployment lifecycles are drawn on (2025-01-01, as a day number).
fn lifecycle_start() -> i64 {
    day_number(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default())
}

/// The span, in days from [`lifecycle_start`], in which deployments are created and deleted.
const LIFECYCLE_DAYS: i64 = 730;

/// How many days before the clock's day (at generation) the scripted anomaly is.
pub const SPIKE_DAYS_AGO: i64 = 3;

/// Marks the scripted anomaly on the demo organization's last deployment that ran the 60 days
/// before `day` and still runs on it. The last, not the first: tests and golden files pin the
/// first ones.
fn script_anomaly(organizations: &mut [Organization], day: i64) {
    let Some(demo) = organizations.iter_mut().find(|o| o.role == OrgRole::Demo) else {
        return;
    };
    let runs = |d: &Deployment| day_number(d.created) <= day - 60 && d.deleted.is_none_or(|x| day_number(x) > day + 1);
    if let Some(dep) = demo.deployments.iter_mut().rev().find(|d| runs(d)) {
        dep.spike = Some(day);
    }
}

/// Days since the Unix epoch of a UTC date.
pub(crate) fn day_number(date: NaiveDate) -> i64 {
    date.signed_duration_since(NaiveDate::default()).num_days()
}

/// The UTC date of a day number.
pub(crate) fn day_date(day: i64) -> NaiveDate {
    NaiveDate::default() + chrono::Duration::days(day)
}

/// Why an organization exists in the dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgRole {
    /// The demo organization: a few dozen deployments and some serverless projects.
    Demo,
    /// The organization only the second Elastic key reads.
    Other,
    /// A further regular organization, readable by the demo key.
    Regular,
    /// The organization with hundreds of deployments, for benchmarks.
    Big,
    /// The organization without any deployment: v2 answers `instances: null`.
    Empty,
}

/// An Elastic Cloud organization.
#[derive(Debug, Clone)]
pub struct Organization {
    /// A numeric string, as Elastic's are.
    pub id: OrganizationId,
    pub name: String,
    pub role: OrgRole,
    pub deployments: Vec<Deployment>,
    /// Serverless projects (v2 only; v1 knows deployments alone).
    pub projects: Vec<Project>,
}

impl Organization {
    /// The deployment with this id.
    pub fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id.as_str() == id)
    }

    /// The serverless project with this id.
    pub fn project(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id.as_str() == id)
    }
}

/// A hosted deployment and what it runs.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// 32 lowercase hex characters.
    pub id: DeploymentId,
    pub name: String,
    /// `aws`, `gcp` or `azure`.
    pub provider: String,
    /// The region as it appears in SKUs.
    pub region: String,
    pub resources: Vec<Resource>,
    /// The first day it runs (UTC).
    pub created: NaiveDate,
    /// The first day it no longer runs, if it was deleted.
    pub deleted: Option<NaiveDate>,
    /// Seeds its daily usage.
    pub(crate) key: u64,
    /// Scales its data transfer and storage with its size.
    pub(crate) size: f64,
    /// The day (a day number) of its scripted anomaly, if it is the one deployment that has it:
    /// a data transfer burst that triples its cost that day (see [`Dataset::scripted_anomaly`]).
    pub(crate) spike: Option<i64>,
}

impl Deployment {
    /// ECU per hour while it runs: the sum of its resources' rates.
    pub fn hourly_rate(&self) -> f64 {
        self.resources.iter().map(|r| r.price_per_hour).sum()
    }
}

/// One instance configuration of a deployment, billed per hour.
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: ResourceKind,
    /// `{provider}.{component}.{family}_{region}_{ram_mb}_{zones}`.
    pub sku: String,
    /// The line-item name, e.g. `Cloud Standard, AWS us-east-1 (N. Virginia), aws.es.datahot.c6gd, 4GB, 2AZ`.
    pub name: String,
    pub ram_mb: u32,
    pub zones: u32,
    /// ECU per hour for the whole configuration (all zones).
    pub price_per_hour: f64,
}

/// A serverless project (a v2 instance that is not a deployment).
#[derive(Debug, Clone)]
pub struct Project {
    pub id: InstanceId,
    pub name: String,
    /// `observability`, `security` or `elasticsearch`.
    pub kind: InstanceType,
    pub region: String,
    pub created: NaiveDate,
    pub(crate) key: u64,
}

/// Credentials the simulator accepts.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Reads every Elastic organization except the "other" one.
    pub elastic_demo_key: String,
    /// Reads only the "other" Elastic organization.
    pub elastic_other_key: String,
    /// A Talkdesk bearer token for the first Talkdesk organization.
    pub talkdesk_token: String,
    /// A Talkdesk bearer token for the second Talkdesk organization.
    pub talkdesk_other_token: String,
    /// One key per further regular organization ([`OrgRole::Regular`], in order), each reading
    /// only its own: with [`Scale::organizations`] above 2, tenants that cannot see one another.
    pub elastic_regular_keys: Vec<String>,
}

/// A Talkdesk organization: its token, accounts and usage rows.
#[derive(Debug, Clone)]
pub struct TalkdeskOrganization {
    pub name: String,
    /// The bearer token that reads this organization.
    pub token: String,
    /// 24-hex account ids.
    pub accounts: Vec<AccountId>,
    /// Every usage row, sorted by id ascending.
    pub(crate) rows: Vec<UsageAggregate>,
}

impl TalkdeskOrganization {
    /// Every usage row of the organization, sorted by id ascending.
    pub fn rows(&self) -> &[UsageAggregate] {
        &self.rows
    }
}

/// The whole generated world.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub(crate) seed: u64,
    organizations: Vec<Organization>,
    talkdesk: Vec<TalkdeskOrganization>,
    credentials: Credentials,
    /// The first day with usage.
    pub(crate) history_start: i64,
}

impl Dataset {
    /// Generates the dataset for a seed and scale, anchored at `now` (history runs back from its month).
    pub fn generate(seed: u64, scale: &Scale, now: DateTime<Utc>) -> Self {
        let months = scale.months.max(1);
        let mut first_month = Month::of(now);
        for _ in 0..months {
            first_month = first_month.pred();
        }
        let history_start = day_number(first_month.start().date_naive());

        let regular = scale.organizations.max(2);
        let credentials = Credentials {
            elastic_demo_key: "sim-elastic-demo-key".to_owned(),
            elastic_other_key: "sim-elastic-other-key".to_owned(),
            talkdesk_token: "sim-talkdesk-token".to_owned(),
            talkdesk_other_token: "sim-talkdesk-other-token".to_owned(),
            elastic_regular_keys: (2..regular).map(|n| format!("sim-elastic-key-{n}")).collect(),
        };

        let mut maker = Gen { seed, history_start, next_org: 0 };
        let mut organizations = Vec::with_capacity(regular + 2);
        for i in 0..regular {
            let (role, name) = match i {
                0 => (OrgRole::Demo, "Acme Corp".to_owned()),
                1 => (OrgRole::Other, "Globex Inc".to_owned()),
                n => (OrgRole::Regular, format!("Regular Org {n}")),
            };
            let projects = if role == OrgRole::Demo { scale.projects } else { 0 };
            organizations.push(maker.organization(role, name, scale.deployments_per_org, projects));
        }
        organizations.push(maker.organization(OrgRole::Big, "Initech (big)".to_owned(), scale.big_org_deployments, 0));
        organizations.push(maker.organization(OrgRole::Empty, "Umbrella Labs (empty)".to_owned(), 0, 0));

        let talkdesk = (0..scale.talkdesk_organizations.max(2))
            .map(|i| {
                let token = match i {
                    0 => credentials.talkdesk_token.clone(),
                    1 => credentials.talkdesk_other_token.clone(),
                    n => format!("sim-talkdesk-token-{n}"),
                };
                talkdesk_org(seed, i, token, scale.accounts_per_org.max(1), first_month.succ(), months)
            })
            .collect();

        script_anomaly(&mut organizations, day_number(now.date_naive()) - SPIKE_DAYS_AGO);
        Dataset { seed, organizations, talkdesk, credentials, history_start }
    }

    /// The scripted anomaly: the demo organization's deployment whose cost triples on one day
    /// (a data transfer burst: its data transfer and storage quantities grow so the day's total
    /// is three times what it would have been), and that day. The day is [`SPIKE_DAYS_AGO`] days
    /// before the clock's day at generation, so it is always recent; the deployment is the last
    /// of the demo organization that ran the 60 days before it. `None` when none did.
    pub fn scripted_anomaly(&self) -> Option<(&Deployment, NaiveDate)> {
        self.demo_org().deployments.iter().find_map(|d| d.spike.map(|day| (d, day_date(day))))
    }

    /// Every Elastic organization: the regular ones (demo first), then the big one, then the empty one.
    pub fn organizations(&self) -> &[Organization] {
        &self.organizations
    }

    /// The organization with this id.
    pub fn organization(&self, id: &str) -> Option<&Organization> {
        self.organizations.iter().find(|o| o.id.as_str() == id)
    }

    fn by_role(&self, role: OrgRole) -> &Organization {
        // Generation always creates one organization of each role but Regular.
        self.organizations.iter().find(|o| o.role == role).unwrap_or(&self.organizations[0])
    }

    /// The demo organization (readable with [`Credentials::elastic_demo_key`]).
    pub fn demo_org(&self) -> &Organization {
        self.by_role(OrgRole::Demo)
    }

    /// The organization only [`Credentials::elastic_other_key`] reads.
    pub fn other_org(&self) -> &Organization {
        self.by_role(OrgRole::Other)
    }

    /// The organization with hundreds of deployments.
    pub fn big_org(&self) -> &Organization {
        self.by_role(OrgRole::Big)
    }

    /// The organization without deployments.
    pub fn empty_org(&self) -> &Organization {
        self.by_role(OrgRole::Empty)
    }

    /// The credentials the simulator accepts.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The organizations an Elastic key may read; `None` for an unknown key.
    pub fn elastic_orgs_for(&self, key: &str) -> Option<Vec<&OrganizationId>> {
        let other = self.other_org();
        if key == self.credentials.elastic_demo_key {
            Some(self.organizations.iter().filter(|o| o.id != other.id).map(|o| &o.id).collect())
        } else if key == self.credentials.elastic_other_key {
            Some(vec![&other.id])
        } else {
            let n = self.credentials.elastic_regular_keys.iter().position(|k| k == key)?;
            self.regular_orgs().nth(n).map(|o| vec![&o.id])
        }
    }

    /// The further regular organizations, in the order of [`Credentials::elastic_regular_keys`].
    pub fn regular_orgs(&self) -> impl Iterator<Item = &Organization> {
        self.organizations.iter().filter(|o| o.role == OrgRole::Regular)
    }

    /// Every Talkdesk organization; the first is read by [`Credentials::talkdesk_token`].
    pub fn talkdesk_organizations(&self) -> &[TalkdeskOrganization] {
        &self.talkdesk
    }

    /// The Talkdesk organization a bearer token reads.
    pub fn talkdesk_for(&self, token: &str) -> Option<&TalkdeskOrganization> {
        self.talkdesk.iter().find(|t| t.token == token)
    }

    /// The first UTC day with Elastic usage.
    pub fn history_start(&self) -> NaiveDate {
        day_date(self.history_start)
    }
}

struct Gen {
    seed: u64,
    history_start: i64,
    next_org: u64,
}

impl Gen {
    fn organization(&mut self, role: OrgRole, name: String, deployments: usize, projects: usize) -> Organization {
        let org = self.next_org;
        self.next_org += 1;
        // Ten digits, never starting with 0, distinct per organization index.
        let id = 1_000_000_000 + (hash(&[self.seed, 1, org]) % 900_000_000) / 10 * 10 + org % 10;
        let mut names = std::collections::HashSet::new();
        let deployments = (0..deployments)
            .map(|i| {
                let mut d = self.deployment(org, u64::try_from(i).unwrap_or(0));
                if !names.insert(d.name.clone()) {
                    d.name = format!("{}-{:03}", d.name, i);
                    names.insert(d.name.clone());
                }
                d
            })
            .collect();
        let projects = (0..projects).map(|i| self.project(org, u64::try_from(i).unwrap_or(0))).collect();
        Organization { id: OrganizationId::new(id.to_string()), name, role, deployments, projects }
    }

    fn deployment(&self, org: u64, i: u64) -> Deployment {
        let h = |salt: u64| hash(&[self.seed, 2, org, i, salt]);
        let region = pick(REGIONS, h(1));
        let id = hex(h(2), h(3), 32);
        let name = match h(4) % 3 {
            0 => format!("{}-{}", pick(catalog::SYSTEMS, h(5)), pick(catalog::ENVIRONMENTS, h(6))),
            1 => format!("{}-{}", pick(catalog::ENVIRONMENTS, h(6)), pick(catalog::SYSTEMS, h(5))),
            _ => format!("{}-{}-{}", pick(catalog::SYSTEMS, h(5)), pick(catalog::ENVIRONMENTS, h(6)), region.id),
        };
        let mut resources = Vec::new();
        let hot_ram = pick(&[1024, 2048, 4096, 4096, 8192, 8192, 16384, 32768, 65536], h(10));
        let hot_zones = pick(&[1, 2, 2, 2, 3], h(11));
        resources.push(resource(region, &catalog::HOT, hot_ram, hot_zones));
        if unit(h(12)) < 0.25 {
            resources.push(resource(region, &catalog::WARM, pick(&[4096, 8192, 16384], h(13)), pick(&[1, 2], h(14))));
        }
        if unit(h(15)) < 0.2 {
            resources.push(resource(region, &catalog::FROZEN, pick(&[4096, 8192], h(16)), 1));
        }
        if unit(h(17)) < 0.15 {
            resources.push(resource(region, &catalog::ML, pick(&[4096, 8192], h(18)), 1));
        }
        let (kibana_ram, kibana_zones) =
            if unit(h(19)) < 0.6 { (1024, 1) } else { (pick(&[2048, 4096], h(20)), pick(&[1, 2], h(21))) };
        resources.push(resource(region, &catalog::KIBANA, kibana_ram, kibana_zones));
        let extra = unit(h(22));
        if extra < 0.4 {
            resources.push(resource(region, &catalog::INTEGRATIONS, pick(&[1024, 2048], h(23)), 1));
        } else if extra < 0.5 {
            resources.push(resource(region, &catalog::APM, 1024, 1));
        }
        if unit(h(24)) < 0.05 {
            resources.push(resource(region, &catalog::ENTERPRISE_SEARCH, 2048, 1));
        }

        // Lifecycles sit on a fixed calendar, not on "now": the same seed shows the same
        // deployments, with the same costs for a given range, whatever day the simulator starts.
        let start = lifecycle_start();
        let offset = |h: u64| i64::try_from(h % LIFECYCLE_DAYS.unsigned_abs()).unwrap_or(0);
        let created = if unit(h(30)) < 0.65 { start - 400 } else { start + offset(h(31)) };
        let deleted = (unit(h(32)) < 0.1).then(|| created.max(start) + 1 + offset(h(33)));
        #[allow(clippy::cast_precision_loss)]
        let size = f64::from(hot_ram) / 1024.0 * f64::from(hot_zones) / 8.0;
        Deployment {
            id: DeploymentId::new(id),
            name,
            provider: region.provider.to_owned(),
            region: region.id.to_owned(),
            resources,
            created: day_date(created),
            deleted: deleted.map(day_date),
            key: h(40),
            size: size.max(0.1),
            spike: None,
        }
    }

    fn project(&self, org: u64, i: u64) -> Project {
        let h = |salt: u64| hash(&[self.seed, 3, org, i, salt]);
        let kind = pick(&[InstanceType::Observability, InstanceType::Security, InstanceType::Elasticsearch], i);
        let region = pick(REGIONS, h(1));
        let created = lifecycle_start() - 30 + i64::try_from(h(2) % 120).unwrap_or(0);
        Project {
            id: InstanceId::new(hex(h(3), h(4), 32)),
            name: format!("{}-{}-project", pick(catalog::SYSTEMS, h(5)), kind.as_str()),
            kind,
            region: region.id.to_owned(),
            created: day_date(created.max(self.history_start)),
            key: h(6),
        }
    }
}

fn resource(region: catalog::Region, component: &Component, ram_mb: u32, zones: u32) -> Resource {
    let family = catalog::family(region.provider, component);
    let machine = format!("{}.{}.{}", region.provider, component.sku_part, family);
    let gb = f64::from(ram_mb) / 1024.0;
    // Small Kibana instances are free, as Elastic's mock shows (rate 0.0 for 1 GB, 1 zone).
    let unit_price = if component.kind == ResourceKind::Kibana && ram_mb <= 1024 && zones == 1 {
        0.0
    } else {
        component.unit_price * catalog::provider_multiplier(region.provider)
    };
    let price_per_hour = round4(gb * f64::from(zones) * unit_price);
    Resource {
        kind: component.kind.clone(),
        sku: format!("{machine}_{}_{}_{}", region.id, ram_mb, zones),
        name: format!("Cloud Standard, {}, {machine}, {}GB, {}AZ", region.display, ram_mb / 1024, zones),
        ram_mb,
        zones,
        price_per_hour,
    }
}

/// Rounds to 4 decimals, the precision of Elastic's rates and v2 line totals.
pub(crate) fn round4(v: f64) -> f64 {
    // Adding 0.0 turns the -0.0 of an empty sum into 0.0.
    (v * 10_000.0).round() / 10_000.0 + 0.0
}

fn talkdesk_org(
    seed: u64,
    org: usize,
    token: String,
    accounts: usize,
    first: Month,
    months: u32,
) -> TalkdeskOrganization {
    let org = u64::try_from(org).unwrap_or(0);
    let accounts: Vec<AccountId> = (0..u64::try_from(accounts).unwrap_or(1))
        .map(|a| AccountId::new(hex(hash(&[seed, 4, org, a]), hash(&[seed, 6, org, a]), 24)))
        .collect();
    let products = catalog::talkdesk_products();
    let mut rows = Vec::new();
    for (a, account) in accounts.iter().enumerate() {
        let mut month = first;
        for m in 0..months {
            for (p, product) in products.iter().enumerate() {
                let h = |salt: u64| hash(&[seed, 5, org, a as u64, u64::from(m), p as u64, salt]);
                // Calls are always there; other products come and go from month to month.
                if product.kind != billing_model::UsageType::Call && unit(h(1)) < 0.15 {
                    continue;
                }
                let units = (product.units * (0.5 + unit(h(2)))).round().max(1.0);
                rows.push(UsageAggregate {
                    id: hex(h(3), h(4), 32),
                    account_id: Some(account.clone()),
                    product_id: Some(product.product_id.to_owned()),
                    aggregated_product_id: Some(product.aggregated_product_id.to_owned()),
                    month: Some(month),
                    kind: Some(product.kind.clone()),
                    description: Some(product.description.to_owned()),
                    currency: Some("USD".to_owned()),
                    direction: product.direction.clone(),
                    resolution: product.resolution.map(str::to_owned),
                    unit: Some(product.unit.to_owned()),
                    price: Some(product.price),
                    wallet_name: Some(product.wallet.to_owned()),
                    number_of_units: Some(units),
                    total_amount: Some((units * product.price * 1_000_000.0).round() / 1_000_000.0),
                });
            }
            month = month.succ();
        }
    }
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    TalkdeskOrganization { name: format!("Talkdesk Org {}", org + 1), token, accounts, rows }
}

/// The first day of the month of a date, as a day number.
pub(crate) fn month_start_day(day: i64) -> i64 {
    let date = day_date(day);
    day_number(date.with_day(1).unwrap_or(date))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 17, 12, 0, 0).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_world() {
        let a = Dataset::generate(1, &Scale::default(), now());
        let b = Dataset::generate(1, &Scale::default(), now());
        let c = Dataset::generate(2, &Scale::default(), now());
        let ids = |d: &Dataset| d.demo_org().deployments.iter().map(|x| x.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&c));
        assert_eq!(a.talkdesk_organizations()[0].rows(), b.talkdesk_organizations()[0].rows());
    }

    #[test]
    fn each_regular_key_reads_only_its_own_organization() {
        let ds = Dataset::generate(42, &Scale { organizations: 4, ..Scale::default() }, now());
        let keys = &ds.credentials().elastic_regular_keys;
        let regular: Vec<&Organization> = ds.regular_orgs().collect();
        assert_eq!((keys.len(), regular.len()), (2, 2));
        for (key, org) in keys.iter().zip(&regular) {
            assert_eq!(ds.elastic_orgs_for(key), Some(vec![&org.id]));
        }
        // The demo key still reads them, as before; the other key still reads only its own.
        let demo = ds.elastic_orgs_for(&ds.credentials().elastic_demo_key).unwrap();
        assert!(regular.iter().all(|o| demo.contains(&&o.id)));
        assert_eq!(ds.elastic_orgs_for(&ds.credentials().elastic_other_key), Some(vec![&ds.other_org().id]));
        assert_eq!(ds.elastic_orgs_for("sim-elastic-key-9"), None);
        assert!(Dataset::generate(42, &Scale::default(), now()).credentials().elastic_regular_keys.is_empty());
    }

    #[test]
    fn shapes_follow_the_contract() {
        let scale = Scale { big_org_deployments: 1000, ..Scale::default() };
        let ds = Dataset::generate(42, &scale, now());
        assert_eq!(ds.big_org().deployments.len(), 1000);
        assert!(ds.empty_org().deployments.is_empty());
        let mut org_ids: Vec<&str> = ds.organizations().iter().map(|o| o.id.as_str()).collect();
        assert!(org_ids.iter().all(|id| id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit())));
        org_ids.sort_unstable();
        org_ids.dedup();
        assert_eq!(org_ids.len(), ds.organizations().len(), "organization ids are unique");
        let names: std::collections::HashSet<&str> = ds.big_org().deployments.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names.len(), 1000, "deployment names are unique within an organization");
        for d in &ds.big_org().deployments {
            assert!(d.id.as_str().len() == 32 && d.id.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(d.resources.iter().any(|r| r.kind == ResourceKind::Elasticsearch));
            for r in &d.resources {
                let parts: Vec<&str> = r.sku.split('_').collect();
                assert_eq!(parts.len(), 4, "{}", r.sku);
                assert!(parts[0].starts_with(&format!("{}.", d.provider)));
                assert_eq!(parts[2], r.ram_mb.to_string());
                assert_eq!(parts[3], r.zones.to_string());
            }
        }
        for t in ds.talkdesk_organizations() {
            assert!(t.accounts.iter().all(|a| a.as_str().len() == 24));
            assert!(t.rows().windows(2).all(|w| w[0].id < w[1].id), "rows are sorted and unique");
        }
    }
}
