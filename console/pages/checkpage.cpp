// SPDX-License-Identifier: Apache-2.0
#include "checkpage.h"

#include "apiclient.h"

#include <QComboBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
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
    m_apiKey->setPlaceholderText(QStringLiteral("optional"));
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

    m_check = new QPushButton(QStringLiteral("Check"));
    m_check->setObjectName(QStringLiteral("check"));
    connect(m_check, &QPushButton::clicked, this, [this] { send(1); });
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
    m_usage = new QProgressBar;
    m_usage->setFormat(QStringLiteral("%v / %m"));
    m_cause = new QLabel;
    m_cause->setObjectName(QStringLiteral("cause"));
    m_cause->setWordWrap(true);
    m_cause->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_policies = new QTreeWidget;
    m_policies->setHeaderLabels({QStringLiteral("Scope"), QStringLiteral("Policy"), QStringLiteral("Count / limit"),
                                 QStringLiteral("Window"), QStringLiteral("")});
    m_policies->setRootIsDecorated(false);
    m_policies->header()->setSectionResizeMode(1, QHeaderView::Stretch);

    auto *request = new QGroupBox(QStringLiteral("Request"));
    auto *left = new QVBoxLayout(request);
    left->addLayout(form);
    left->addWidget(m_check);
    auto *result = new QGroupBox(QStringLiteral("Decision"));
    auto *right = new QVBoxLayout(result);
    right->addWidget(m_verdict);
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

void CheckPage::setRequest(const QString &tenant, const QString &user, const QString &model, const QString &tier,
                           const QString &apiKey)
{
    m_tenant->setText(tenant);
    m_user->setText(user);
    m_model->setText(model);
    m_tier->setCurrentText(tier);
    m_apiKey->setText(apiKey);
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
    m_check->setEnabled(false);
    m_pending = times;
    sendOne(r);
}

void CheckPage::sendOne(const CheckRequest &r)
{
    // One after another, so the view ends on the last answer of a scenario.
    m_client->check(r, this, [this, r](int status, const Decision &d, const ApiError &e) {
        show(status, d, e.message());
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
        m_verdict->setText(QStringLiteral("ERROR %1").arg(status));
        m_verdict->setStyleSheet(QStringLiteral("color: #a15c00"));
        m_summary->clear();
        m_usage->setRange(0, 1);
        m_usage->setValue(0);
        m_cause->setText(error);
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
    m_usage->setRange(0, static_cast<int>(std::min<qint64>(d.limit, INT_MAX)));
    m_usage->setValue(static_cast<int>(std::min<qint64>(std::min(d.count, d.limit), INT_MAX)));
    for (const PolicyUsage &u : d.policies) {
        auto *item = new QTreeWidgetItem({scopeName(u.scope), u.label, QStringLiteral("%1 / %2").arg(u.count).arg(u.limit),
                                          QStringLiteral("%1 s").arg(u.windowSeconds),
                                          u.violated ? QStringLiteral("violated") : QString()});
        if (u.violated) {
            for (int c = 0; c < 5; ++c)
                item->setForeground(c, QColor(0xb3, 0x26, 0x1e));
        }
        m_policies->addTopLevelItem(item);
    }
    for (int c = 0; c < 5; ++c)
        m_policies->resizeColumnToContents(c);
    m_cause->setText(d.cause.isNull() ? QString() : d.cause);
}

QString CheckPage::verdict() const { return m_verdict->text(); }
QString CheckPage::cause() const { return m_cause->text(); }

} // namespace sluice
