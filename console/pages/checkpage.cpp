// SPDX-License-Identifier: Apache-2.0
#include "checkpage.h"

#include "apiclient.h"
#include "message.h"
#include "registrycompleter.h"
#include "callerpolicies.h"

#include <QCheckBox>
#include <QComboBox>
#include <QJsonArray>
#include <QJsonObject>
#include <QLocale>
#include <QKeyEvent>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace sluice {

CheckPage::CheckPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    m_tenant = new QLineEdit(QStringLiteral("enterprise_co"));
    m_user = new QLineEdit(QStringLiteral("ent-user-1"));
    m_model = new QLineEdit(QStringLiteral("gpt-4o"));
    m_tier = new QComboBox;
    m_tier->addItems({QString(), QStringLiteral("premium"), QStringLiteral("standard"), QStringLiteral("free")});
    m_apiKey = new QLineEdit;
    setPlaceholder(m_apiKey, QStringLiteral("optional"));
    m_tenant->setObjectName(QStringLiteral("tenant"));
    m_user->setObjectName(QStringLiteral("user"));
    m_model->setObjectName(QStringLiteral("model"));
    m_apiKey->setObjectName(QStringLiteral("apiKey"));

    auto *form = new QFormLayout;
    form->addRow(QStringLiteral("Tenant"), m_tenant);
    form->addRow(QStringLiteral("User"), m_user);
    form->addRow(QStringLiteral("Model"), m_model);
    form->addRow(QStringLiteral("Tier"), m_tier);
    form->addRow(QStringLiteral("API key"), m_apiKey);
    m_cost = new QSpinBox;
    m_cost->setObjectName(QStringLiteral("cost"));
    m_cost->setRange(1, 1000000000);
    m_cost->setToolTip(QStringLiteral("Estimated tokens (prompt + max_tokens): the weight of this request in every tokens policy"));
    form->addRow(QStringLiteral("Cost (tokens)"), m_cost);

    // The lifecycle of design §10: an admitted request under a tokens or concurrent policy holds a
    // reservation until it completes (with the actual tokens) or its leases expire.
    m_reservation = new QLabel(QStringLiteral("No reservation"));
    m_reservation->setObjectName(QStringLiteral("reservation"));
    m_reservation->setWordWrap(true);
    m_reservation->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_useActual = new QCheckBox(QStringLiteral("Actual tokens"));
    m_actual = new QSpinBox;
    m_actual->setObjectName(QStringLiteral("actual"));
    m_actual->setRange(0, 1000000000);
    m_actual->setEnabled(false);
    connect(m_useActual, &QCheckBox::toggled, m_actual, &QSpinBox::setEnabled);
    m_complete = new QPushButton(QStringLiteral("Complete"));
    m_complete->setObjectName(QStringLiteral("complete"));
    m_extend = new QPushButton(QStringLiteral("Extend lease"));
    m_extend->setObjectName(QStringLiteral("extend"));
    m_complete->setEnabled(false);
    m_extend->setEnabled(false);
    connect(m_complete, &QPushButton::clicked, this, [this] {
        completeReservation(m_useActual->isChecked() ? std::optional<qint64>(m_actual->value()) : std::nullopt);
    });
    connect(m_extend, &QPushButton::clicked, this, &CheckPage::extendReservation);

    m_check = new QPushButton(QStringLiteral("Check"));
    m_check->setObjectName(QStringLiteral("check"));
    connect(m_check, &QPushButton::clicked, this, [this] { send(1); });
    // Enter in any field of the request sends it (as the Check button does, when it is enabled);
    // in Cost too (a spin box has no returnPressed: the filter below).
    for (QLineEdit *field : {m_tenant, m_user, m_model, m_apiKey}) {
        connect(field, &QLineEdit::returnPressed, this, [this] {
            if (m_check->isEnabled())
                send(1);
        });
    }
    m_cost->installEventFilter(this);
    // Another model has its own tier: a tier picked for the last one would be refused (400). Back
    // to "" (the server takes the model's tier from the registry) whenever the model changes.
    connect(m_model, &QLineEdit::textChanged, this, [this] { m_tier->setCurrentIndex(0); });
    auto *scenarios = new QHBoxLayout;
    struct Scenario { const char *label; const char *tenant, *user, *model, *tier; int times; };
    static const Scenario list[] = {
        {"A: enterprise user", "enterprise_co", "ent-user-1", "gpt-4o", "premium", 1},
        {"B: ent-user-2 ×11 on gpt-4o", "enterprise_co", "ent-user-2", "gpt-4o", "premium", 11},
        {"C: free user ×11 on tiny-model", "free_co", "free-user-1", "tiny-model", "free", 11},
    };
    for (const Scenario &s : list) {
        auto *b = new QPushButton(QString::fromUtf8(s.label));
        connect(b, &QPushButton::clicked, this, [this, s] {
            setRequest(QString::fromLatin1(s.tenant), QString::fromLatin1(s.user), QString::fromLatin1(s.model),
                       QString::fromLatin1(s.tier));
            send(s.times);
        });
        scenarios->addWidget(b);
    }

    m_verdict = new QLabel(QStringLiteral("—"));
    m_verdict->setObjectName(QStringLiteral("verdict"));
    QFont big = m_verdict->font();
    big.setPointSize(big.pointSize() * 2);
    big.setBold(true);
    m_verdict->setFont(big);
    m_summary = new QLabel;
    m_sequence = new QLabel;
    m_sequence->setObjectName(QStringLiteral("sequence"));
    m_sequence->hide();
    m_usage = new QProgressBar;
    m_usage->setFormat(QStringLiteral("%v / %m"));
    m_cause = new QLabel;
    m_cause->setObjectName(QStringLiteral("cause"));
    m_cause->setWordWrap(true);
    m_cause->setTextInteractionFlags(Qt::TextSelectableByMouse);
    for (QLabel *line : {m_summary, m_sequence, m_cause, m_reservation})
        keepWithinWidth(line);
    m_policies = new QTreeWidget;
    m_policies->setHeaderLabels({QStringLiteral("Scope"), QStringLiteral("Policy"), QStringLiteral("Count / limit"),
                                 QStringLiteral("Window"), QStringLiteral("")});
    m_policies->setRootIsDecorated(false);
    m_policies->header()->setSectionResizeMode(1, QHeaderView::Stretch);

    auto *request = new QGroupBox(QStringLiteral("Request"));
    auto *left = new QVBoxLayout(request);
    left->addLayout(form);
    left->addWidget(m_check);
    auto *lifecycle = new QGroupBox(QStringLiteral("Reservation"));
    auto *lifecycleLayout = new QVBoxLayout(lifecycle);
    lifecycleLayout->addWidget(m_reservation);
    auto *actualRow = new QHBoxLayout;
    actualRow->addWidget(m_useActual);
    actualRow->addWidget(m_actual, 1);
    lifecycleLayout->addLayout(actualRow);
    auto *lifecycleButtons = new QHBoxLayout;
    lifecycleButtons->addWidget(m_complete);
    lifecycleButtons->addWidget(m_extend);
    lifecycleLayout->addLayout(lifecycleButtons);
    left->addWidget(lifecycle);
    // The inference door (design §15): a real chat request, as an OpenAI client sends it.
    auto *chat = new QGroupBox(QStringLiteral("Chat through the inference door"));
    chat->setToolTip(QStringLiteral("POST /v1/chat/completions with the API key above as the bearer (the server needs --upstream)"));
    auto *chatLayout = new QVBoxLayout(chat);
    m_chatMessage = new QLineEdit(QStringLiteral("Hello!"));
    m_chatMessage->setObjectName(QStringLiteral("chatMessage"));
    setPlaceholder(m_chatMessage, QStringLiteral("a user message"));
    m_chatMaxTokens = new QSpinBox;
    m_chatMaxTokens->setObjectName(QStringLiteral("chatMaxTokens"));
    m_chatMaxTokens->setRange(1, 1000000);
    m_chatMaxTokens->setValue(64);
    m_chatMaxTokens->setPrefix(QStringLiteral("max_tokens "));
    m_sendChat = new QPushButton(QStringLiteral("Send chat"));
    m_sendChat->setObjectName(QStringLiteral("sendChat"));
    m_chatResult = new QLabel;
    m_chatResult->setObjectName(QStringLiteral("chatResult"));
    keepWithinWidth(m_chatResult);
    m_chatResult->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_chatResult->setMinimumHeight(m_chatResult->fontMetrics().lineSpacing() * 4); // (a reply and its usage, wrapped)
    m_chatResult->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    chatLayout->addWidget(m_chatMessage);
    auto *chatRow = new QHBoxLayout;
    chatRow->addWidget(m_chatMaxTokens, 1);
    chatRow->addWidget(m_sendChat);
    chatLayout->addLayout(chatRow);
    chatLayout->addWidget(m_chatResult);
    auto sendChatNow = [this] { sendChat(m_chatMessage->text(), m_chatMaxTokens->value()); };
    connect(m_sendChat, &QPushButton::clicked, this, sendChatNow);
    connect(m_chatMessage, &QLineEdit::returnPressed, this, sendChatNow);
    left->addWidget(chat);
    left->addStretch();
    auto *result = new QGroupBox(QStringLiteral("Decision"));
    auto *right = new QVBoxLayout(result);
    right->addWidget(m_verdict);
    right->addWidget(m_sequence);
    right->addWidget(m_summary);
    right->addWidget(m_usage);
    right->addWidget(m_policies, 1);
    right->addWidget(m_cause);
    auto *top = new QHBoxLayout;
    top->addWidget(request);
    top->addWidget(result, 1);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(scenarios);
    layout->addLayout(top, 1);
}

bool CheckPage::eventFilter(QObject *watched, QEvent *event)
{
    if (watched == m_cost && event->type() == QEvent::KeyPress) {
        const int key = static_cast<QKeyEvent *>(event)->key();
        if (key == Qt::Key_Return || key == Qt::Key_Enter) {
            m_cost->interpretText(); // what was typed, not the last committed value
            if (m_check->isEnabled())
                send(1);
            return true;
        }
    }
    return QWidget::eventFilter(watched, event);
}

void CheckPage::setRequest(const QString &tenant, const QString &user, const QString &model, const QString &tier,
                           const QString &apiKey)
{
    m_tenant->setText(tenant);
    m_user->setText(user);
    m_model->setText(model);
    m_tier->setCurrentText(tier);
    m_apiKey->setText(apiKey);
}

void CheckPage::refreshPickers()
{
    offerRegistryIds(m_client, this, m_tenant, QStringLiteral("tenants"));
    offerRegistryIds(m_client, this, m_user, QStringLiteral("users"));
    offerRegistryIds(m_client, this, m_model, QStringLiteral("models"));
}

void CheckPage::send(int times)
{
    CheckRequest r;
    r.userId = m_user->text();
    r.modelId = m_model->text();
    auto optional = [](const QString &s) { return s.isEmpty() ? QString() : s; };
    r.tenantId = optional(m_tenant->text());
    r.modelTier = optional(m_tier->currentText());
    r.apiKey = optional(m_apiKey->text());
    r.cost = m_cost->value();
    m_check->setEnabled(false);
    m_pending = times;
    m_sent = m_allowedInRun = m_blockedInRun = m_failedInRun = 0;
    m_sequence->setVisible(times > 1);
    m_sequence->clear();
    sendOne(r);
}

void CheckPage::sendOne(const CheckRequest &r)
{
    // One after another, so the view ends on the last answer of a scenario.
    m_client->check(r, this, [this, r](int status, const Decision &d, const ApiError &e) {
        m_lastRequest = r;
        ++m_answers;
        show(status, d, e.message());
        // Every answer of a scenario counted, not only the last one shown below.
        ++m_sent;
        (status == 200 ? m_allowedInRun : status == 429 ? m_blockedInRun : m_failedInRun)++;
        if (m_sequence->isVisible())
            m_sequence->setText(QStringLiteral("%1 sent: %2 allowed, %3 blocked%4 — the last answer below")
                                    .arg(m_sent)
                                    .arg(m_allowedInRun)
                                    .arg(m_blockedInRun)
                                    .arg(m_failedInRun ? QStringLiteral(", %1 failed").arg(m_failedInRun) : QString()));
        if (--m_pending > 0)
            return sendOne(r);
        m_check->setEnabled(true);
        Q_EMIT answered(status);
    });
}

void CheckPage::show(int status, const Decision &d, const QString &error)
{
    m_policies->clear();
    if (status != 200 && status != 429) {
        // Plain words for what went wrong: no answer at all, the request refused, or the server's own error.
        m_verdict->setText(status == 0 ? QStringLiteral("NO ANSWER") : status < 500 ? QStringLiteral("REFUSED (%1)").arg(status)
                                                                                    : QStringLiteral("SERVER ERROR (%1)").arg(status));
        m_verdict->setStyleSheet(QStringLiteral("color: #a15c00"));
        m_summary->clear();
        m_usage->setRange(0, 1);
        m_usage->setValue(0);
        m_usage->setFormat(QStringLiteral("—"));
        m_usageRed = false;
        m_usage->setStyleSheet(QString());
        m_cause->setText(status == 0 ? QStringLiteral("The server did not answer at %1 (%2). Is sluice-server running?")
                                           .arg(m_client->server().toString(), error)
                                     : error);
        return;
    }
    m_verdict->setText(d.allowed ? QStringLiteral("ALLOWED") : QStringLiteral("BLOCKED"));
    m_verdict->setStyleSheet(d.allowed ? QStringLiteral("color: #1b7f3b") : QStringLiteral("color: #b3261e"));
    m_summary->setText(QStringLiteral("%1 · %2 remaining · resets in %3 s%4 · tier %5 · source %6")
                           .arg(d.primary ? d.primary->label : QStringLiteral("no policy"))
                           .arg(d.remaining)
                           .arg(d.resetSeconds)
                           .arg(d.allowed ? QString() : QStringLiteral(" · retry after %1 s").arg(d.retryAfterSeconds))
                           .arg(d.modelTier.isNull() ? QStringLiteral("—") : d.modelTier, d.source));
    showUsage(d);
    m_cause->setText(d.cause.isNull() ? QString() : d.cause);
    showReservation(d);
}

void CheckPage::showUsage(const Decision &d)
{
    m_policies->clear();
    // The headline: what binds. Refused: the refusing policy. Admitted: the enforced policy
    // nearest its limit by share (a tokens policy at 900/1000 binds before requests at 2/10).
    const int binding = bindingPolicy(d.policies);
    const PolicyUsage *head = d.primary && !d.allowed ? &*d.primary : binding >= 0 ? &d.policies.at(binding) : nullptr;
    if (head) {
        const QString unit = unitSuffix(head->unit);
        m_usage->setRange(0, static_cast<int>(std::clamp<qint64>(head->limit, 1, INT_MAX)));
        m_usage->setValue(static_cast<int>(std::clamp<qint64>(std::min(head->count, head->limit), 0, INT_MAX)));
        // The real count, also past the limit (3 / 2 when blocked, never a full 2 / 2).
        m_usage->setFormat(QStringLiteral("%1 / %2%3 — %4").arg(head->count).arg(head->limit).arg(unit, head->label));
        m_usageRed = !d.allowed || head->count >= head->limit;
    } else {
        m_usage->setRange(0, 1);
        m_usage->setValue(0);
        m_usage->setFormat(QStringLiteral("no policy applies"));
        m_usageRed = false;
    }
    m_usage->setStyleSheet(m_usageRed ? QStringLiteral("QProgressBar::chunk { background-color: #b3261e; }") : QString());
    for (const PolicyUsage &u : d.policies) {
        const QString unit = unitSuffix(u.unit);
        const QString window = usageWindowText(u);
        const QString state = u.shadow ? (u.violated ? QStringLiteral("shadow: would block") : QStringLiteral("shadow"))
                                       : u.violated ? QStringLiteral("violated") : QString();
        auto *item = new QTreeWidgetItem({scopeName(u.scope), u.label, QStringLiteral("%1 / %2%3").arg(QLocale().toString(u.count), QLocale().toString(u.limit), unit),
                                          window, state});
        if (u.shadow) {
            // A shadow policy never blocks: grey and italic, whatever it says.
            QFont italic = item->font(0);
            italic.setItalic(true);
            for (int c = 0; c < 5; ++c) {
                item->setForeground(c, QColor(0x80, 0x80, 0x80));
                item->setFont(c, italic);
            }
        } else if (u.violated) {
            for (int c = 0; c < 5; ++c)
                item->setForeground(c, QColor(0xb3, 0x26, 0x1e));
        }
        m_policies->addTopLevelItem(item);
    }
    for (int c = 0; c < 5; ++c)
        m_policies->resizeColumnToContents(c);
}

void CheckPage::showReservation(const Decision &d)
{
    m_reservationId = d.reservationId;
    const bool held = !m_reservationId.isEmpty();
    m_complete->setEnabled(held);
    m_extend->setEnabled(held);
    m_reservation->setText(held ? QStringLiteral("Reservation %1 · leases expire in %2 s unless completed or extended")
                                      .arg(d.reservationId)
                                      .arg(d.leaseExpiresInSeconds)
                                : QStringLiteral("No reservation (no tokens or concurrent policy held this request)"));
    markError(m_reservation);
}

QString CheckPage::reservationText() const { return m_reservation->text(); }

QString CheckPage::headline() const { return m_usage->text(); }

bool CheckPage::headlineRed() const { return m_usageRed; }

QString CheckPage::sequenceText() const { return m_sequence->isVisibleTo(this) ? m_sequence->text() : QString(); }

void CheckPage::setCost(qint64 cost) { m_cost->setValue(static_cast<int>(std::min<qint64>(cost, m_cost->maximum()))); }

void CheckPage::completeReservation(std::optional<qint64> actualTokens)
{
    if (m_reservationId.isEmpty())
        return;
    m_complete->setEnabled(false);
    m_extend->setEnabled(false);
    const QString id = m_reservationId;
    m_client->completeReservation(ReservationRequest{id, actualTokens}, this, [this, id, actualTokens](int status, const QJsonObject &a, const ApiError &e) {
        if (status == 200) {
            m_reservation->setText(a.value(QStringLiteral("alreadyCompleted")).toBool()
                                       ? QStringLiteral("Reservation %1 was already completed: nothing changed").arg(id)
                                       : actualTokens ? QStringLiteral("Reservation %1 completed: charged %2 tokens, leases released").arg(id).arg(*actualTokens)
                                                      : QStringLiteral("Reservation %1 completed: estimate kept, leases released").arg(id));
            markError(m_reservation);
            m_reservationId.clear();
            refreshCounts();
        } else {
            m_reservation->setText(QStringLiteral("Could not complete %1: %2").arg(id, e.message()));
            markError(m_reservation);
            if (status != 404)
                m_complete->setEnabled(true);
        }
        Q_EMIT reservationAnswered(status);
    });
}

void CheckPage::refreshCounts()
{
    // A look (POST /admin/explain), nothing charged: the counts with what was just settled, as
    // the next check of the same request would make them (a check's answer counts itself). Not
    // without an admin token, and dropped when another answer came meanwhile.
    if (!m_client->hasAdminToken())
        return;
    const quint64 answers = m_answers;
    m_client->explain(m_lastRequest, this, [this, answers](int status, const Decision &d, const ApiError &e) {
        if (answers != m_answers)
            return;
        if (status == 200) {
            showUsage(d);
            m_reservation->setText(m_reservation->text() + QStringLiteral(" · the counts below are what the next check of this request "
                                                                          "would make, with the settled tokens (a look: nothing charged)"));
        } else {
            m_reservation->setText(m_reservation->text() + QStringLiteral(" · the counts below are from before it (%1)").arg(e.message()));
        }
        markError(m_reservation);
        Q_EMIT countsRefreshed(status);
    });
}

void CheckPage::extendReservation()
{
    if (m_reservationId.isEmpty())
        return;
    const QString id = m_reservationId;
    m_client->extendReservation(id, this, [this, id](int status, const QJsonObject &a, const ApiError &e) {
        m_reservation->setText(status == 200 ? QStringLiteral("Reservation %1 · leases renewed: expire in %2 s")
                                                   .arg(id)
                                                   .arg(a.value(QStringLiteral("leaseExpiresInSeconds")).toInteger())
                                             : QStringLiteral("Could not extend %1: %2").arg(id, e.message()));
        markError(m_reservation);
        Q_EMIT reservationAnswered(status);
    });
}

QStringList CheckPage::policyStates() const
{
    QStringList out;
    for (int i = 0; i < m_policies->topLevelItemCount(); ++i)
        out << m_policies->topLevelItem(i)->text(0) + QLatin1Char('|') + m_policies->topLevelItem(i)->text(3) + QLatin1Char('|')
                + m_policies->topLevelItem(i)->text(4);
    return out;
}

QString CheckPage::verdict() const { return m_verdict->text(); }
QString CheckPage::cause() const { return m_cause->text(); }

} // namespace sluice

namespace sluice {

void CheckPage::sendChat(const QString &message, int maxTokens)
{
    if (m_apiKey->text().isEmpty()) {
        showChat(QStringLiteral("The inference door's callers are API keys: fill in API key above (API keys page)."), true);
        return Q_EMIT chatAnswered(0);
    }
    if (m_chatMessage->text() != message)
        m_chatMessage->setText(message);
    m_chatMaxTokens->setValue(maxTokens);
    QJsonObject body{{QStringLiteral("model"), m_model->text()},
                     {QStringLiteral("max_tokens"), maxTokens},
                     {QStringLiteral("messages"), QJsonArray{QJsonObject{{QStringLiteral("role"), QStringLiteral("user")},
                                                                         {QStringLiteral("content"), message}}}}};
    if (!m_user->text().isEmpty())
        body.insert(QStringLiteral("user"), m_user->text());
    m_sendChat->setEnabled(false);
    showChat(QStringLiteral("Sending…"), false);
    m_client->chat(m_apiKey->text(), body, this, [this](const ApiClient::ChatAnswer &a) {
        m_sendChat->setEnabled(true);
        const QJsonObject error = a.body.value(QStringLiteral("error")).toObject();
        QString left;
        for (const auto &h : a.rateLimitHeaders) {
            if (h.first == "x-ratelimit-remaining-tokens")
                left = QStringLiteral(" · tokens left: %1").arg(QLocale().toString(h.second.toLongLong()));
        }
        if (a.status == 200) {
            const QJsonObject choice = a.body.value(QStringLiteral("choices")).toArray().at(0).toObject();
            const QJsonObject usage = a.body.value(QStringLiteral("usage")).toObject();
            showChat(QStringLiteral("200 · “%1” · usage %2 prompt + %3 completion tokens%4")
                                      .arg(choice.value(QStringLiteral("message")).toObject().value(QStringLiteral("content")).toString())
                                      .arg(usage.value(QStringLiteral("prompt_tokens")).toInteger())
                                      .arg(usage.value(QStringLiteral("completion_tokens")).toInteger())
                                      .arg(left), false);
        } else if (a.status == 0) {
            showChat(QStringLiteral("No answer: %1").arg(a.networkError), true);
        } else if (a.status == 404 && error.value(QStringLiteral("code")).toString() == QStringLiteral("not_found")) {
            showChat(QStringLiteral("This server has no inference door: start it with --upstream <model server>."), true);
        } else {
            QString retry;
            for (const auto &h : a.rateLimitHeaders) {
                if (h.first == "retry-after")
                    retry = QStringLiteral(" (retry after %1 s)").arg(QString::fromLatin1(h.second));
            }
            showChat(QStringLiteral("%1 %2: %3%4")
                                        .arg(a.status)
                                        .arg(a.status == 429 ? QStringLiteral("refused") : QStringLiteral("error"),
                                             error.value(QStringLiteral("message")).toString(), retry), true);
        }
        Q_EMIT chatAnswered(a.status);
    });
}

QString CheckPage::chatText() const
{
    return m_chatResult->text();
}

void CheckPage::showChat(const QString &text, bool red)
{
    m_chatResult->setText(text);
    m_chatResult->setStyleSheet(red ? QStringLiteral("color: #b3261e") : QString());
    m_chatResult->setProperty("red", red);
}

bool CheckPage::chatRed() const
{
    return m_chatResult->property("red").toBool();
}

} // namespace sluice
