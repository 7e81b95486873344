// SPDX-License-Identifier: Apache-2.0
#include "usagepage.h"

#include "apiclient.h"
#include "message.h"
#include "confirm.h"
#include "registrycompleter.h"
#include "charttheme.h"
#include "callerpolicies.h"
#include "checkrequest.h"
#include "windowkey.h"

#include <QChart>
#include <cmath>
#include <QLegendMarker>
#include <QScatterSeries>
#include <QAreaSeries>
#include <QChartView>
#include <QComboBox>
#include <QDateTime>
#include <QDateTimeAxis>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QNetworkReply>
#include <QPen>
#include <QPushButton>
#include <QTimer>
#include <QValueAxis>
#include <QVBoxLayout>

namespace sluice {

namespace {

constexpr int kMaxWatched = 10;

// What the scope needs: tenant, user, model, tier, API key.
struct Needs
{
    bool tenant = false, user = false, model = false, tier = false, apiKey = false;
};
Needs needsOf(Scope s)
{
    switch (s) {
    case Scope::UserModel: return {false, true, true, false, false};
    case Scope::ApiKey: return {false, false, false, false, true};
    case Scope::Tenant: return {true, false, false, false, false};
    case Scope::Model: return {false, false, true, false, false};
    case Scope::ModelTier: return {false, false, false, true, false};
    case Scope::Global: break;
    }
    return {};
}

// "user ent-user-2 on gpt-4o (tokens)" for a key, for people.
QString describeKey(const QString &key)
{
    const auto k = parseWindowKey(key.toUtf8());
    if (!k)
        return key;
    QString who;
    switch (k->scope) {
    case Scope::UserModel: who = QStringLiteral("user %1 on %2").arg(k->id1, k->id2); break;
    case Scope::ApiKey: who = QStringLiteral("API key %1").arg(k->id1); break;
    case Scope::Tenant: who = QStringLiteral("tenant %1").arg(k->id1); break;
    case Scope::Model: who = QStringLiteral("model %1").arg(k->id1); break;
    case Scope::ModelTier: who = QStringLiteral("tier %1").arg(k->id1); break;
    case Scope::Global: who = QStringLiteral("everything (global)"); break;
    }
    if (k->unit != Unit::Requests)
        who += QStringLiteral(" (%1)").arg(unitName(k->unit));
    return who;
}

} // namespace

UsagePage::UsagePage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    m_scope = new QComboBox;
    m_scope->setObjectName(QStringLiteral("scope"));
    for (Scope s : kScopesBySpecificity)
        m_scope->addItem(scopeName(s), static_cast<int>(s));
    m_tenant = entityPicker(QStringLiteral("tenant"), QStringLiteral("tenant"));
    m_user = entityPicker(QStringLiteral("user"), QStringLiteral("user"));
    m_model = entityPicker(QStringLiteral("model"), QStringLiteral("model"));
    m_tier = entityPicker(QStringLiteral("tier"), QStringLiteral("tier"));
    m_apiKey = entityPicker(QStringLiteral("apiKey"), QStringLiteral("API key id"));
    m_unit = new QComboBox;
    m_unit->setObjectName(QStringLiteral("unit"));
    for (Unit u : {Unit::Requests, Unit::Tokens, Unit::Concurrent})
        m_unit->addItem(unitName(u), static_cast<int>(u));

    auto *watchButton = new QPushButton(QStringLiteral("Watch"));
    watchButton->setObjectName(QStringLiteral("watch"));
    watchButton->setToolTip(QStringLiteral("Add this caller to the chart (at most %1)").arg(kMaxWatched));
    auto *blockedButton = new QPushButton(QStringLiteral("Most blocked"));
    blockedButton->setObjectName(QStringLiteral("mostBlocked"));
    blockedButton->setToolTip(QStringLiteral("Watch the five most blocked callers"));
    auto *resetButton = new QPushButton(QStringLiteral("Reset usage…"));
    resetButton->setObjectName(QStringLiteral("resetUsage"));
    resetButton->setToolTip(QStringLiteral("Empty the windows of the watched callers: they may send again at once"));
    auto *clearButton = new QPushButton(QStringLiteral("Clear"));
    clearButton->setObjectName(QStringLiteral("clear"));
    auto *stopButton = new QPushButton(QStringLiteral("Stop"));
    m_range = new QComboBox;
    m_range->setObjectName(QStringLiteral("range"));
    m_range->addItem(QStringLiteral("last minute"), 60);
    m_range->addItem(QStringLiteral("last 5 minutes"), 300);
    m_range->addItem(QStringLiteral("last 15 minutes"), 900);
    m_pause = new QPushButton(QStringLiteral("Pause"));
    m_pause->setObjectName(QStringLiteral("pause"));
    m_pause->setCheckable(true);
    m_pause->setToolTip(QStringLiteral("Freeze the chart to read it; the data keeps coming and is drawn when it resumes"));
    auto *reloadButton = new QPushButton(QStringLiteral("Reload lists"));
    reloadButton->setToolTip(QStringLiteral("Fill the pickers from the registry again"));

    m_watching = new QLabel(QStringLiteral("Watching nobody: pick a caller and press Watch, or Most blocked."));
    m_watching->setWordWrap(true);
    m_status = new QLabel(QStringLiteral("not watching"));
    m_status->setObjectName(QStringLiteral("usageStatus"));

    m_chart = themedChart(new QChart);
    m_x = new QDateTimeAxis;
    m_x->setFormat(QStringLiteral("HH:mm:ss"));
    m_x->setTitleText(QStringLiteral("time"));
    m_x->setTickCount(7);
    m_y = new QValueAxis;
    m_y->setTitleText(QStringLiteral("% of limit"));
    m_y->setLabelFormat(QStringLiteral("%d"));
    m_chart->addAxis(m_x, Qt::AlignBottom);
    m_chart->addAxis(m_y, Qt::AlignLeft);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    m_x->setRange(QDateTime::fromMSecsSinceEpoch(now - 60000), QDateTime::fromMSecsSinceEpoch(now));
    m_y->setRange(0, 120);
    m_y->setTickCount(7);
    m_limitLine = new QLineSeries;
    m_limitLine->setName(QStringLiteral("limit (100 %)"));
    m_limitLine->setPen(QPen(QColor(0x75, 0x75, 0x75), 1.5, Qt::DashLine));
    m_chart->addSeries(m_limitLine);
    m_limitLine->attachAxis(m_x);
    m_limitLine->attachAxis(m_y);
    m_note = new QLabel;
    m_note->setObjectName(QStringLiteral("usageNote"));
    m_note->setWordWrap(true);
    m_note->setStyleSheet(QStringLiteral("color: #a15c00"));
    for (QLabel *line : {m_watching, m_status, m_note})
        keepWithinWidth(line);
    auto *view = new QChartView(m_chart);
    view->setRenderHint(QPainter::Antialiasing);
    m_callerPolicies = new CallerPolicies;

    auto *pick = new QGridLayout;
    pick->addWidget(new QLabel(QStringLiteral("Scope")), 0, 0);
    pick->addWidget(m_scope, 0, 1);
    pick->addWidget(new QLabel(QStringLiteral("Tenant")), 0, 2);
    pick->addWidget(m_tenant, 0, 3);
    pick->addWidget(new QLabel(QStringLiteral("User")), 0, 4);
    pick->addWidget(m_user, 0, 5);
    pick->addWidget(new QLabel(QStringLiteral("Model")), 0, 6);
    pick->addWidget(m_model, 0, 7);
    pick->addWidget(new QLabel(QStringLiteral("Tier")), 1, 2);
    pick->addWidget(m_tier, 1, 3);
    pick->addWidget(new QLabel(QStringLiteral("API key id")), 1, 4);
    pick->addWidget(m_apiKey, 1, 5);
    pick->addWidget(new QLabel(QStringLiteral("Unit")), 1, 6);
    pick->addWidget(m_unit, 1, 7);
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(watchButton);
    buttons->addWidget(blockedButton);
    buttons->addWidget(resetButton);
    buttons->addWidget(clearButton);
    buttons->addWidget(stopButton);
    buttons->addStretch(1);
    buttons->addWidget(m_range);
    buttons->addWidget(m_pause);
    buttons->addWidget(reloadButton);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(pick);
    layout->addLayout(buttons);
    layout->addWidget(m_watching);
    layout->addWidget(m_status);
    layout->addWidget(m_note);
    layout->addWidget(view, 1);
    layout->addWidget(m_callerPolicies);

    m_reconnect = new QTimer(this);
    m_reconnect->setSingleShot(true);
    connect(m_reconnect, &QTimer::timeout, this, &UsagePage::connectStream);
    connect(m_scope, &QComboBox::currentIndexChanged, this, &UsagePage::updatePickerStates);
    connect(watchButton, &QPushButton::clicked, this, &UsagePage::watchPicked);
    connect(blockedButton, &QPushButton::clicked, this, [this] { watchMostBlocked(); });
    connect(clearButton, &QPushButton::clicked, this, [this] {
        stop();
        ++m_generation; // answers still coming are for what was cleared
        m_watched.clear();
        clearChart();
        m_explained.reset();
        m_callerPolicies->clear(QStringLiteral("Name a user and a model and press Watch: every policy a check of them goes through is listed here."));
        m_watching->setText(QStringLiteral("Watching nobody."));
        Q_EMIT watchedChanged();
    });
    connect(stopButton, &QPushButton::clicked, this, [this] {
        ++m_generation; // a Watch still asking the server does not start it again
        stop();
    });
    connect(m_range, &QComboBox::currentIndexChanged, this, [this] { setRangeSeconds(m_range->currentData().toInt()); });
    connect(m_pause, &QPushButton::toggled, this, &UsagePage::setPaused);
    connect(resetButton, &QPushButton::clicked, this, &UsagePage::resetWatched);
    connect(reloadButton, &QPushButton::clicked, this, &UsagePage::refreshPickers);
    // Server → Connect…: the stream follows the new server and token.
    connect(client, &ApiClient::serverChanged, this, [this] {
        if (!m_watched.isEmpty() && !m_stopping) { // watching, or refused: the operator did not stop it
            clearChart(); // another server: nothing of the last one's counts stays
            watch(m_watched);
        }
    });
    updatePickerStates();
}

UsagePage::~UsagePage()
{
    stop();
}

QComboBox *UsagePage::picker(const QString &name) const
{
    return findChild<QComboBox *>(name);
}

void UsagePage::updatePickerStates()
{
    const Needs n = needsOf(static_cast<Scope>(m_scope->currentData().toInt()));
    m_tenant->setEnabled(n.tenant);
    m_user->setEnabled(n.user);
    m_model->setEnabled(n.model);
    m_tier->setEnabled(n.tier);
    m_apiKey->setEnabled(n.apiKey);
}

void UsagePage::refreshPickers()
{
    auto pending = std::make_shared<int>(4);
    const std::pair<QString, QComboBox *> kinds[] = {{QStringLiteral("tenants"), m_tenant},
                                                     {QStringLiteral("users"), m_user},
                                                     {QStringLiteral("models"), m_model},
                                                     {QStringLiteral("tiers"), m_tier}};
    for (const auto &[kind, combo] : kinds) {
        m_client->registryIds(kind, this, [this, combo = combo, pending](const QStringList &ids, const ApiError *error) {
            if (!error) {
                setPickerChoices(combo, ids, false, true);
            } else {
                m_status->setText(QStringLiteral("The pickers stay empty (type the ids): %1").arg(error->message()));
                markError(m_status);
            }
            if (--*pending == 0)
                Q_EMIT pickersFilled();
        });
    }
}

QString UsagePage::pickedKey(QString *why, Algorithm algorithm) const
{
    const auto scope = static_cast<Scope>(m_scope->currentData().toInt());
    const Needs n = needsOf(scope);
    auto value = [&](bool needed, QComboBox *c, const QString &what, QString *out) {
        if (!needed)
            return true;
        *out = c->currentText().trimmed();
        if (out->isEmpty() && why)
            *why = QStringLiteral("name the %1 (scope %2)").arg(what, scopeName(scope));
        return !out->isEmpty();
    };
    QString id1, id2;
    bool ok = true;
    switch (scope) {
    case Scope::UserModel:
        ok = value(true, m_user, QStringLiteral("user"), &id1) && value(true, m_model, QStringLiteral("model"), &id2);
        break;
    case Scope::ApiKey: ok = value(n.apiKey, m_apiKey, QStringLiteral("API key id"), &id1); break;
    case Scope::Tenant: ok = value(n.tenant, m_tenant, QStringLiteral("tenant"), &id1); break;
    case Scope::Model: ok = value(n.model, m_model, QStringLiteral("model"), &id1); break;
    case Scope::ModelTier: ok = value(n.tier, m_tier, QStringLiteral("tier"), &id1); break;
    case Scope::Global: break;
    }
    if (!ok)
        return QString();
    const auto unit = static_cast<Unit>(m_unit->currentData().toInt());
    return QString::fromUtf8(windowKey(scope, id1, id2) + windowKeySuffix(unit, algorithm));
}

void UsagePage::watchPicked()
{
    QString why;
    const QString key = pickedKey(&why);
    if (key.isEmpty()) {
        m_status->setText(QStringLiteral("Cannot watch: %1.").arg(why));
        markError(m_status);
        return;
    }
    // The caller's key is the one its policy counts in: a token bucket's ends in :bucket. Asked of
    // the server (GET /admin/usage names the policy that governs a key); the log key when none does.
    QStringList candidates{key};
    const auto unit = static_cast<Unit>(m_unit->currentData().toInt());
    if (unit != Unit::Concurrent)
        candidates << pickedKey(nullptr, Algorithm::TokenBucket);
    // What was picked now, not when the answer comes (the pickers may change meanwhile); an answer
    // after Clear, Stop or another Watch is dropped.
    const std::optional<CheckRequest> caller = pickedCaller();
    const quint64 generation = ++m_generation;
    m_client->usage(candidates, this, [this, candidates, caller, generation](const QJsonArray &usage, const ApiError *) {
        if (generation != m_generation)
            return;
        QString chosen = candidates.first();
        for (const QJsonValue &v : usage) {
            if (v.toObject().value(QStringLiteral("policyId")).isDouble()) {
                chosen = v.toObject().value(QStringLiteral("key")).toString();
                break;
            }
        }
        QStringList keys = m_watched;
        if (!keys.contains(chosen))
            keys.append(chosen);
        while (keys.size() > kMaxWatched)
            keys.removeFirst();
        watch(keys);
        if (caller) {
            explain(*caller);
        } else {
            m_explained.reset();
            m_callerPolicies->clear(QStringLiteral("Pick scope USER_MODEL, a user and a model to list every policy a check of them goes through."));
        }
    });
}

std::optional<CheckRequest> UsagePage::pickedCaller() const
{
    // A user on a model, as a check of them would be resolved (scope user_model: the other
    // pickers may hold stale text — a tier left there would contradict the model).
    if (static_cast<Scope>(m_scope->currentData().toInt()) != Scope::UserModel)
        return std::nullopt;
    CheckRequest r;
    r.userId = m_user->currentText().trimmed();
    r.modelId = m_model->currentText().trimmed();
    if (r.userId.isEmpty() || r.modelId.isEmpty())
        return std::nullopt;
    return r;
}

void UsagePage::explain(const CheckRequest &r)
{
    m_explained = r;
    const QString caller = QStringLiteral("user %1 on %2").arg(r.userId, r.modelId);
    const quint64 generation = m_generation;
    m_client->explain(r, this, [this, caller, generation](int status, const Decision &d, const ApiError &e) {
        if (generation != m_generation)
            return; // Clear, Stop or another Watch since
        if (status != 200) {
            m_callerPolicies->clear(QStringLiteral("Cannot list the policies of %1: %2").arg(caller, e.message()));
            return;
        }
        m_callerPolicies->setPolicies(caller, d.policies);
        restream(); // their keys join the stream (the chart still draws the watched callers only)
    });
}

void UsagePage::restream()
{
    // Not stopped, not waiting to reconnect (that asks for streamKeys() itself), keys changed.
    if (m_watched.isEmpty() || m_stopping || m_reconnect->isActive() || streamKeys() == m_streamedKeys)
        return;
    stop();
    connectStream();
}

QStringList UsagePage::streamKeys() const
{
    QStringList keys = m_watched;
    for (const QByteArray &k : m_callerPolicies->keys()) {
        const QString key = QString::fromUtf8(k);
        if (!keys.contains(key) && keys.size() < 100)
            keys << key;
    }
    return keys;
}

void UsagePage::watchMostBlocked(int n)
{
    m_client->topBlocked(n, this, [this](const QJsonArray &entries, const ApiError *error) {
        if (error) {
            m_status->setText(QStringLiteral("Cannot read the most blocked callers: %1").arg(error->message()));
            markError(m_status);
            return;
        }
        QStringList keys;
        for (const QJsonValue &v : entries)
            keys.append(v.toObject().value(QStringLiteral("key")).toString());
        keys.removeAll(QString());
        if (keys.isEmpty()) {
            m_status->setText(QStringLiteral("Nobody has been blocked since the server started."));
            markError(m_status);
            return;
        }
        watch(keys);
    });
}

void UsagePage::resetWatched()
{
    if (m_watched.isEmpty()) {
        m_status->setText(QStringLiteral("Watch a caller first."));
        markError(m_status);
        return;
    }
    QStringList names;
    for (const QString &k : std::as_const(m_watched))
        names << describeKey(k);
    const QStringList keys = m_watched;
    confirmThen(this, QStringLiteral("confirmResetWatched"), QStringLiteral("Reset usage"),
                QStringLiteral("Empty the windows of %1? Their counts drop to 0 and they may send again at once.")
                    .arg(names.join(QStringLiteral(", "))),
                [this, keys] {
                    for (const QString &key : keys) {
                        m_client->resetUsage(key, this, [this, key](const ApiError *error) {
                            if (error) {
                                m_status->setText(QStringLiteral("Cannot reset %1: %2").arg(describeKey(key), error->message()));
                                markError(m_status);
                            }
                        });
                    }
                });
}

void UsagePage::clearChart()
{
    m_series.clear();
    QList<QAbstractSeries *> gone;
    for (QLineSeries *line : std::as_const(m_lines))
        if (line)
            gone << line;
    for (const QList<QLineSeries *> &segments : std::as_const(m_oldSegments))
        for (QLineSeries *line : segments)
            if (line)
                gone << line;
    for (QScatterSeries *marks : std::as_const(m_overLimit))
        gone << marks;
    for (QScatterSeries *marks : std::as_const(m_refusalMarks))
        gone << marks;
    for (QAreaSeries *band : std::as_const(m_gaps))
        gone << band;
    for (QAbstractSeries *series : std::as_const(gone)) {
        m_chart->removeSeries(series);
        delete series;
    }
    m_lines.clear();
    m_oldSegments.clear();
    m_segmentStart.clear();
    m_overLimit.clear();
    m_refusalMarks.clear();
    m_refusals.clear();
    m_refusedSoFar.clear();
    m_gaps.clear();
    m_limitLine->clear();
    m_gapStartMs = -1;
    m_lastEventMs = -1;
    m_lastAllowed = m_lastBlocked = -1;
    m_note->clear();
}

void UsagePage::setRangeSeconds(int seconds)
{
    const int i = m_range->findData(seconds);
    if (i >= 0 && i != m_range->currentIndex())
        m_range->setCurrentIndex(i); // comes back here through the signal
    const qint64 now = m_lastEventMs >= 0 ? m_lastEventMs : QDateTime::currentMSecsSinceEpoch();
    m_x->setRange(QDateTime::fromMSecsSinceEpoch(now - shownRangeMs()), QDateTime::fromMSecsSinceEpoch(now));
}

qint64 UsagePage::shownRangeMs() const { return m_range->currentData().toLongLong() * 1000; }

void UsagePage::setPaused(bool paused)
{
    m_paused = paused;
    if (m_pause->isChecked() != paused)
        m_pause->setChecked(paused);
    m_pause->setText(paused ? QStringLiteral("Resume") : QStringLiteral("Pause"));
}

int UsagePage::segmentCount(const QString &key) const
{
    return static_cast<int>(m_oldSegments.value(key).size()) + (m_lines.contains(key) ? 1 : 0);
}

int UsagePage::refusalMarks(const QString &key) const { return static_cast<int>(m_refusals.value(key).size()); }

void UsagePage::trackRefusals(const QString &key, const QJsonObject &k, qint64 now)
{
    // The server counts each key's refusals; a count that grew since the last event means
    // refusals in between: marked at this event, at the caller's share of its limit then.
    const QJsonValue v = k.value(QStringLiteral("blocked"));
    if (!v.isDouble())
        return;
    const qint64 count = v.toInteger();
    const qint64 before = m_refusedSoFar.value(key, -1);
    m_refusedSoFar.insert(key, count);
    if (before < 0 || count <= before)
        return;
    const QList<QPointF> shares = m_series.percentPoints(key);
    QList<QPointF> &marks = m_refusals[key];
    marks.append(QPointF(static_cast<double>(now), shares.isEmpty() ? 100.0 : shares.last().y()));
    while (!marks.isEmpty() && marks.first().x() < static_cast<double>(now - 15 * 60 * 1000))
        marks.removeFirst();
}

int UsagePage::overLimitPoints(const QString &key) const
{
    const QScatterSeries *marks = m_overLimit.value(key);
    return marks ? marks->count() : 0;
}

QString UsagePage::noteText() const { return m_note->text(); }

QString UsagePage::axisTitle() const { return m_y->titleText(); }

void UsagePage::watch(const QStringList &keysToWatch)
{
    const QStringList keys = keysToWatch; // a copy: callers may pass m_watched itself
    const bool live = !m_stopping && m_stream; // a stopped chart starts again (no slope across the stop)
    stop();
    // A caller added to a live watch keeps what the chart has; a caller removed starts it again.
    bool onlyAdded = live && !m_watched.isEmpty();
    for (const QString &k : std::as_const(m_watched))
        onlyAdded = onlyAdded && keys.contains(k);
    if (!onlyAdded)
        clearChart();
    m_watched.clear();
    for (const QString &k : keys) {
        if (!k.trimmed().isEmpty() && !m_watched.contains(k.trimmed()))
            m_watched << k.trimmed();
    }
    QStringList names;
    for (const QString &k : std::as_const(m_watched))
        names << describeKey(k);
    m_watching->setText(QStringLiteral("Watching: %1").arg(names.join(QStringLiteral(" · "))));
    m_backoffMs = 1000;
    Q_EMIT watchedChanged();
    connectStream();
}

void UsagePage::connectStream()
{
    if (m_watched.isEmpty())
        return;
    m_stopping = false;
    m_status->setText(QStringLiteral("connecting to %1…").arg(m_client->server().toString()));
    markError(m_status);
    m_streamedKeys = streamKeys();
    m_stream = m_client->streamEvents(
        m_streamedKeys, this, [this](const QJsonObject &event) { onEvent(event); },
        [this](const QString &why, bool retry) { onStreamEnd(why, retry); });
}

void UsagePage::onStreamEnd(const QString &why, bool retry)
{
    if (m_stopping) {
        m_status->setText(QStringLiteral("stopped"));
        markError(m_status);
        return;
    }
    if (!retry) {
        m_status->setText(QStringLiteral("Stopped: %1").arg(why));
        markError(m_status);
        return;
    }
    // The server went away (or answered with an error): no data from the last event on, drawn as
    // such when it answers again; try again, pausing longer each time.
    if (m_gapStartMs < 0)
        m_gapStartMs = m_lastEventMs >= 0 ? m_lastEventMs : QDateTime::currentMSecsSinceEpoch();
    m_status->setText(QStringLiteral("The server at %1 stopped answering (%2) — reconnecting in %3 s…")
                          .arg(m_client->server().toString(), why)
                          .arg(m_backoffMs / 1000));
    markError(m_status);
    m_reconnect->start(m_backoffMs);
    m_backoffMs = std::min(5000, m_backoffMs * 2);
}

bool UsagePage::isReconnecting() const { return m_reconnect->isActive(); }

QString UsagePage::statusText() const { return m_status->text(); }

void UsagePage::stop()
{
    m_stopping = true;
    m_reconnect->stop();
    if (m_stream)
        m_stream->abort();
}

void UsagePage::onEvent(const QJsonObject &event)
{
    m_backoffMs = 1000; // it answers again
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const QList<QColor> colors = {QColor(0x1f, 0x77, 0xb4), QColor(0x94, 0x67, 0xbd), QColor(0xff, 0x7f, 0x0e),
                                  QColor(0x17, 0xbe, 0xcf), QColor(0x8c, 0x56, 0x4b)};
    const qint64 allowed = event.value(QStringLiteral("allowedTotal")).toInteger();
    const qint64 blocked = event.value(QStringLiteral("blockedTotal")).toInteger();
    if (m_paused) {
        m_lastEventMs = now;
        // Kept, not drawn: the chart stays as the operator froze it.
        for (const QJsonValue &v : event.value(QStringLiteral("keys")).toArray()) {
            const QJsonObject k = v.toObject();
            m_callerPolicies->update(k);
            if (!m_watched.contains(k.value(QStringLiteral("key")).toString()))
                continue; // listed, not charted
            const QJsonValue limitValue = k.value(QStringLiteral("limit"));
            m_series.add(k.value(QStringLiteral("key")).toString(), static_cast<double>(now), k.value(QStringLiteral("count")).toInteger(),
                         limitValue.isNull() ? -1 : limitValue.toInteger());
            trackRefusals(k.value(QStringLiteral("key")).toString(), k, now);
        }
        m_status->setText(QStringLiteral("Paused at %1 (the data keeps coming: Resume draws it)")
                              .arg(QDateTime::fromMSecsSinceEpoch(now).toString(QStringLiteral("HH:mm:ss"))));
        markError(m_status);
        Q_EMIT updated();
        return;
    }
    if (m_gapStartMs >= 0) {
        // Back after a time without data: a grey band over it, and every line starts again after
        // it (no slope drawn through what was not seen).
        auto *lower = new QLineSeries;
        auto *upper = new QLineSeries;
        lower->append(static_cast<double>(m_gapStartMs), 0);
        lower->append(static_cast<double>(now), 0);
        upper->append(static_cast<double>(m_gapStartMs), 100000);
        upper->append(static_cast<double>(now), 100000);
        auto *band = new QAreaSeries(upper, lower);
        band->setParent(nullptr); // (its constructor made it a child of `upper`) the chart owns it once added
        upper->setParent(band);
        lower->setParent(band);
        band->setName(QStringLiteral("no data (server unreachable)"));
        band->setBrush(QColor(0x9e, 0x9e, 0x9e, 70));
        band->setPen(Qt::NoPen);
        m_chart->addSeries(band);
        band->attachAxis(m_x);
        band->attachAxis(m_y);
        m_gaps.append(band);
        if (m_gaps.size() > 1)
            for (QLegendMarker *marker : m_chart->legend()->markers(band))
                marker->setVisible(false);
        for (auto it = m_lines.begin(); it != m_lines.end(); ++it) {
            m_oldSegments[it.key()].append(it.value());
            it.value() = nullptr; // a new segment below
            m_segmentStart[it.key()] = static_cast<double>(now);
        }
        const bool restarted = (m_lastAllowed >= 0 && allowed < m_lastAllowed) || (m_lastBlocked >= 0 && blocked < m_lastBlocked);
        const QString from = QDateTime::fromMSecsSinceEpoch(m_gapStartMs).toString(QStringLiteral("HH:mm:ss"));
        const QString to = QDateTime::fromMSecsSinceEpoch(now).toString(QStringLiteral("HH:mm:ss"));
        m_note->setText(restarted ? QStringLiteral("No data from %1 to %2: the server restarted meanwhile, and what it counted in "
                                                   "memory started again from 0 (grey band).")
                                        .arg(from, to)
                                  : QStringLiteral("No data from %1 to %2: the server did not answer (grey band).").arg(from, to));
        m_gapStartMs = -1;
        // The policies may have changed meanwhile (a restart forgets those made in the console).
        if (m_explained)
            explain(*m_explained);
    }
    m_lastAllowed = allowed;
    m_lastBlocked = blocked;
    m_lastEventMs = now;
    double top = 100;
    QStringList unlimited;
    for (const QJsonValue &v : event.value(QStringLiteral("keys")).toArray()) {
        const QJsonObject k = v.toObject();
        const QString key = k.value(QStringLiteral("key")).toString();
        m_callerPolicies->update(k);
        if (!m_watched.contains(key))
            continue; // listed, not charted
        const qint64 count = k.value(QStringLiteral("count")).toInteger();
        const QJsonValue limitValue = k.value(QStringLiteral("limit"));
        const qint64 limit = limitValue.isNull() ? -1 : limitValue.toInteger();
        m_series.add(key, static_cast<double>(now), count, limit);
        trackRefusals(key, k, now);
        QLineSeries *&line = m_lines[key];
        const int index = static_cast<int>(m_series.keys().indexOf(key));
        const QColor color = colors.at(std::max(0, index) % colors.size());
        const bool first = !m_segmentStart.contains(key);
        auto hideFromLegend = [this](QAbstractSeries *series) {
            for (QLegendMarker *marker : m_chart->legend()->markers(series))
                marker->setVisible(false);
        };
        if (!line) {
            line = new QLineSeries;
            line->setPen(QPen(color, 2));
            m_chart->addSeries(line);
            line->attachAxis(m_x);
            line->attachAxis(m_y);
            if (first)
                m_segmentStart[key] = static_cast<double>(now);
            else
                hideFromLegend(line); // one legend entry per caller: its first segment's
        }
        // Marks of one kind per caller, named once in the legend.
        auto marksFor = [&](QHash<QString, QScatterSeries *> &all, const QString &name, QScatterSeries::MarkerShape shape,
                            const QColor &color, qreal size) {
            QScatterSeries *&marks = all[key];
            if (!marks) {
                marks = new QScatterSeries;
                marks->setName(name);
                marks->setMarkerShape(shape);
                marks->setColor(color);
                marks->setBorderColor(color);
                marks->setMarkerSize(size);
                m_chart->addSeries(marks);
                marks->attachAxis(m_x);
                marks->attachAxis(m_y);
                if (all.size() > 1)
                    hideFromLegend(marks);
            }
            return marks;
        };
        QScatterSeries *marks = marksFor(m_overLimit, QStringLiteral("at or over the limit"), QScatterSeries::MarkerShapeCircle,
                                         QColor(0xb3, 0x26, 0x1e), 7);
        QScatterSeries *refusals = marksFor(m_refusalMarks, QStringLiteral("refused here"), QScatterSeries::MarkerShapeTriangle,
                                            QColor(0x7f, 0x00, 0x00), 11);
        refusals->replace(m_refusals.value(key));
        QLineSeries *named = m_oldSegments.value(key).isEmpty() ? line : m_oldSegments.value(key).first();
        if (limit < 0) {
            unlimited << describeKey(key);
            named->setName(QStringLiteral("%1 — no policy, nothing to chart").arg(describeKey(key)));
            continue;
        }
        const QString unit = k.value(QStringLiteral("unit")).toString();
        const QString bucket = k.value(QStringLiteral("algorithm")).toString() == QLatin1String("token_bucket") ? QStringLiteral(" (bucket: used of its burst)") : QString();
        named->setName(QStringLiteral("%1 — %2 / %3%4%5").arg(describeKey(key)).arg(count).arg(limit)
                           .arg(unit == QLatin1String("requests") || unit.isEmpty() ? QString() : QLatin1Char(' ') + unit, bucket));
        QList<QPointF> segment, over;
        const double start = m_segmentStart.value(key);
        const double shownFrom = static_cast<double>(now - shownRangeMs());
        for (const QPointF &p : m_series.percentPoints(key)) {
            if (p.x() >= start)
                segment << p;
            if (p.y() >= 100)
                over << p;
            if (p.x() >= shownFrom)
                top = std::max(top, p.y()); // the axis fits what is shown
        }
        line->replace(segment);
        marks->replace(over);
    }
    const qint64 range = shownRangeMs();
    m_limitLine->replace({QPointF(static_cast<double>(now - range), 100), QPointF(static_cast<double>(now), 100)});
    m_x->setRange(QDateTime::fromMSecsSinceEpoch(now - range), QDateTime::fromMSecsSinceEpoch(now));
    // Room above the highest point; whole, even percentages on the ticks.
    setWholeAxis(m_y, static_cast<qint64>(std::ceil(top + 10))); // at most six whole ticks, however far over
    if (!unlimited.isEmpty() && m_note->text().isEmpty())
        m_note->setText(QStringLiteral("No policy governs %1: nothing to chart against a limit.").arg(unlimited.join(QStringLiteral(", "))));
    m_status->setText(QStringLiteral("Live at %1 · this server decided %2 allowed, %3 blocked since it started")
                          .arg(QDateTime::fromMSecsSinceEpoch(now).toString(QStringLiteral("HH:mm:ss")))
                          .arg(event.value(QStringLiteral("allowedTotal")).toInteger())
                          .arg(event.value(QStringLiteral("blockedTotal")).toInteger()));
    markError(m_status);
    Q_EMIT updated();
}

} // namespace sluice
