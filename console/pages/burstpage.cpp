// SPDX-License-Identifier: Apache-2.0
#include "burstpage.h"

#include "message.h"
#include "charttheme.h"
#include "registrycompleter.h"
#include "models/burstrun.h"

#include <QChart>
#include <QColor>
#include <QChartView>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QValueAxis>
#include <QVBoxLayout>

namespace sluice {

BurstPage::BurstPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client), m_run(new BurstRun(client, this))
{
    m_tenant = new QLineEdit(QStringLiteral("enterprise_co"));
    m_user = new QLineEdit(QStringLiteral("ent-user-2"));
    m_model = new QLineEdit(QStringLiteral("gpt-4o"));
    m_tier = new QLineEdit;
    m_tier->setObjectName(QStringLiteral("tier"));
    setPlaceholder(m_tier, QStringLiteral("optional: the model's tier"));
    m_apiKey = new QLineEdit;
    m_apiKey->setObjectName(QStringLiteral("apiKey"));
    setPlaceholder(m_apiKey, QStringLiteral("optional: sent as apiKey"));
    m_apiKey->setEchoMode(QLineEdit::PasswordEchoOnEdit);
    m_total = new QSpinBox;
    m_total->setRange(1, 100000);
    m_total->setValue(50);
    m_concurrency = new QSpinBox;
    m_concurrency->setRange(1, 64);
    m_concurrency->setValue(4);
    m_rate = new QSpinBox;
    m_rate->setRange(0, 10000);
    m_rate->setSpecialValueText(QStringLiteral("as fast as possible"));
    m_rate->setSuffix(QStringLiteral(" /s"));
    // The lifecycle: a token estimate per request, and each admitted one completed after a delay
    // with an actual count (a tokens policy reconciles, a concurrency policy frees its lease).
    m_cost = new QSpinBox;
    m_cost->setObjectName(QStringLiteral("cost"));
    m_cost->setRange(1, 1000000000);
    m_completeAfter = new QSpinBox;
    m_completeAfter->setObjectName(QStringLiteral("completeAfter"));
    m_completeAfter->setRange(-1, 600000);
    m_completeAfter->setValue(-1);
    m_completeAfter->setSpecialValueText(QStringLiteral("never (leases expire)"));
    m_completeAfter->setSuffix(QStringLiteral(" ms"));
    m_actual = new QSpinBox;
    m_actual->setObjectName(QStringLiteral("actual"));
    m_actual->setRange(-1, 1000000000);
    m_actual->setValue(-1);
    m_actual->setSpecialValueText(QStringLiteral("keep the estimate"));
    auto *form = new QFormLayout;
    form->addRow(QStringLiteral("Tenant"), m_tenant);
    form->addRow(QStringLiteral("User"), m_user);
    form->addRow(QStringLiteral("Model"), m_model);
    form->addRow(QStringLiteral("Model tier"), m_tier);
    form->addRow(QStringLiteral("API key"), m_apiKey);
    form->addRow(QStringLiteral("Requests"), m_total);
    form->addRow(QStringLiteral("Concurrency"), m_concurrency);
    form->addRow(QStringLiteral("Rate"), m_rate);
    form->addRow(QStringLiteral("Cost (tokens)"), m_cost);
    form->addRow(QStringLiteral("Complete after"), m_completeAfter);
    form->addRow(QStringLiteral("Actual tokens"), m_actual);
    m_start = new QPushButton(QStringLiteral("Start burst"));
    m_cancel = new QPushButton(QStringLiteral("Cancel"));
    m_cancel->setEnabled(false);
    m_progress = new QProgressBar;
    m_counters = new QLabel(QStringLiteral("allowed 0 · blocked 0 · errors 0"));

    auto *chart = themedChart(new QChart);
    m_allowedSeries = new QLineSeries;
    m_allowedSeries->setName(QStringLiteral("allowed"));
    m_blockedSeries = new QLineSeries;
    m_blockedSeries->setName(QStringLiteral("blocked"));
    // Allowed green, blocked red, whatever the theme's palette says.
    m_allowedSeries->setColor(QColor(0x1b, 0x7f, 0x3b));
    m_blockedSeries->setColor(QColor(0xb3, 0x26, 0x1e));
    chart->addSeries(m_allowedSeries);
    chart->addSeries(m_blockedSeries);
    m_x = new QValueAxis;
    m_x->setTitleText(QStringLiteral("seconds since the burst began"));
    m_x->setLabelFormat(QStringLiteral("%.2g"));
    m_y = new QValueAxis;
    m_y->setTitleText(QStringLiteral("requests"));
    m_y->setLabelFormat(QStringLiteral("%d"));
    chart->addAxis(m_x, Qt::AlignBottom);
    chart->addAxis(m_y, Qt::AlignLeft);
    for (QLineSeries *s : {m_allowedSeries, m_blockedSeries}) {
        s->attachAxis(m_x);
        s->attachAxis(m_y);
    }
    auto *view = new QChartView(chart);
    view->setMinimumHeight(240);

    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_start);
    buttons->addWidget(m_cancel);
    auto *left = new QVBoxLayout;
    left->addLayout(form);
    left->addLayout(buttons);
    left->addStretch();
    auto *right = new QVBoxLayout;
    right->addWidget(m_progress);
    right->addWidget(m_counters);
    right->addWidget(view, 1);
    auto *layout = new QHBoxLayout(this);
    layout->addLayout(left);
    layout->addLayout(right, 1);

    connect(m_start, &QPushButton::clicked, this, &BurstPage::start);
    connect(m_cancel, &QPushButton::clicked, m_run, &BurstRun::cancel);
    connect(m_run, &BurstRun::progress, this, &BurstPage::update);
    connect(m_run, &BurstRun::finished, this, [this] {
        update();
        m_start->setEnabled(true);
        m_cancel->setEnabled(false);
    });
}

void BurstPage::configure(const QString &tenant, const QString &user, const QString &model, int total, int concurrency, int rate)
{
    m_tenant->setText(tenant);
    m_user->setText(user);
    m_model->setText(model);
    m_total->setValue(total);
    m_concurrency->setValue(concurrency);
    m_rate->setValue(rate);
}

void BurstPage::configureLifecycle(qint64 cost, int completeAfterMs, qint64 actualTokens)
{
    m_cost->setValue(static_cast<int>(cost));
    m_completeAfter->setValue(completeAfterMs);
    m_actual->setValue(static_cast<int>(actualTokens));
}

void BurstPage::refreshPickers()
{
    offerRegistryIds(m_client, this, m_tenant, QStringLiteral("tenants"));
    offerRegistryIds(m_client, this, m_user, QStringLiteral("users"));
    offerRegistryIds(m_client, this, m_model, QStringLiteral("models"));
    offerRegistryIds(m_client, this, m_tier, QStringLiteral("tiers"));
}

void BurstPage::configureCaller(const QString &tier, const QString &apiKey)
{
    m_tier->setText(tier);
    m_apiKey->setText(apiKey);
}

void BurstPage::start()
{
    CheckRequest r;
    r.cost = m_cost->value();
    m_run->setLifecycle(m_completeAfter->value(), m_actual->value() < 0 ? std::nullopt : std::optional<qint64>(m_actual->value()));
    r.tenantId = m_tenant->text().isEmpty() ? QString() : m_tenant->text();
    r.modelTier = m_tier->text().trimmed().isEmpty() ? QString() : m_tier->text().trimmed();
    r.apiKey = m_apiKey->text().trimmed().isEmpty() ? QString() : m_apiKey->text().trimmed();
    r.userId = m_user->text();
    r.modelId = m_model->text();
    m_allowedSeries->clear();
    m_blockedSeries->clear();
    m_quantiles.clear();
    m_quantilesAge.invalidate();
    m_progress->setRange(0, m_total->value());
    m_progress->setValue(0);
    m_start->setEnabled(false);
    m_cancel->setEnabled(true);
    m_run->start(r, m_total->value(), m_concurrency->value(), m_rate->value());
}

void BurstPage::update()
{
    m_progress->setValue(m_run->done());
    QString counters = QStringLiteral("allowed %1 · blocked %2 · errors %3").arg(m_run->allowed()).arg(m_run->blocked()).arg(m_run->errors());
    if (m_run->completed() + m_run->completionErrors() + m_run->held() > 0)
        counters += QStringLiteral(" · completed %1 · held %2").arg(m_run->completed()).arg(m_run->held());
    if (m_run->completionErrors() > 0)
        counters += QStringLiteral(" · completions failed %1").arg(m_run->completionErrors());
    if (m_run->done() > 0) {
        counters += QStringLiteral(" · %1 answers/s").arg(m_run->answersPerSecond(), 0, 'f', 1);
        // The quantiles sort every sample: recomputed at most every 250 ms while running, and at the end.
        if (!m_run->isRunning() || !m_quantilesAge.isValid() || m_quantilesAge.elapsed() >= 250) {
            m_quantiles = m_run->latencyQuantileMs(0.5) >= 0 ? QStringLiteral(" · p50 %1 ms · p99 %2 ms")
                                                                    .arg(m_run->latencyQuantileMs(0.5), 0, 'f', 2)
                                                                    .arg(m_run->latencyQuantileMs(0.99), 0, 'f', 2)
                                                              : QString();
            m_quantilesAge.start();
        }
        counters += m_quantiles;
    }
    if (!m_run->stopReason().isEmpty())
        counters += QStringLiteral(" · ") + m_run->stopReason();
    m_counters->setText(counters);
    const double t = m_run->elapsedMs() / 1000.0;
    m_allowedSeries->append(t, m_run->allowed());
    m_blockedSeries->append(t, m_run->blocked());
    // A short burst fills the width (no 1 s minimum squeezing 0.1 s to the left edge); whole
    // requests on the y axis (no "0 0 0 0 1" from rounded fractional ticks).
    m_x->setRange(0, std::max(0.05, t));
    m_x->applyNiceNumbers(); // ticks on round seconds (no 4.1 / 8.2)
    setWholeAxis(m_y, std::max(m_run->allowed(), m_run->blocked()));
}

QString BurstPage::counters() const { return m_counters->text(); }

} // namespace sluice
