// SPDX-License-Identifier: Apache-2.0
#include "burstpage.h"

#include "models/burstrun.h"

#include <QChart>
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

BurstPage::BurstPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_run(new BurstRun(client, this))
{
    m_tenant = new QLineEdit(QStringLiteral("enterprise_co"));
    m_user = new QLineEdit(QStringLiteral("ent-user-2"));
    m_model = new QLineEdit(QStringLiteral("gpt-4o"));
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
    auto *form = new QFormLayout;
    form->addRow(QStringLiteral("Tenant"), m_tenant);
    form->addRow(QStringLiteral("User"), m_user);
    form->addRow(QStringLiteral("Model"), m_model);
    form->addRow(QStringLiteral("Requests"), m_total);
    form->addRow(QStringLiteral("Concurrency"), m_concurrency);
    form->addRow(QStringLiteral("Rate"), m_rate);
    m_start = new QPushButton(QStringLiteral("Start burst"));
    m_cancel = new QPushButton(QStringLiteral("Cancel"));
    m_cancel->setEnabled(false);
    m_progress = new QProgressBar;
    m_counters = new QLabel(QStringLiteral("allowed 0 · blocked 0 · errors 0"));

    auto *chart = new QChart;
    m_allowedSeries = new QLineSeries;
    m_allowedSeries->setName(QStringLiteral("allowed"));
    m_blockedSeries = new QLineSeries;
    m_blockedSeries->setName(QStringLiteral("blocked"));
    chart->addSeries(m_allowedSeries);
    chart->addSeries(m_blockedSeries);
    m_x = new QValueAxis;
    m_x->setTitleText(QStringLiteral("seconds"));
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

void BurstPage::start()
{
    CheckRequest r;
    r.tenantId = m_tenant->text().isEmpty() ? QString() : m_tenant->text();
    r.userId = m_user->text();
    r.modelId = m_model->text();
    m_allowedSeries->clear();
    m_blockedSeries->clear();
    m_progress->setRange(0, m_total->value());
    m_progress->setValue(0);
    m_start->setEnabled(false);
    m_cancel->setEnabled(true);
    m_run->start(r, m_total->value(), m_concurrency->value(), m_rate->value());
}

void BurstPage::update()
{
    m_progress->setValue(m_run->done());
    m_counters->setText(QStringLiteral("allowed %1 · blocked %2 · errors %3").arg(m_run->allowed()).arg(m_run->blocked()).arg(m_run->errors()));
    const double t = m_run->elapsedMs() / 1000.0;
    m_allowedSeries->append(t, m_run->allowed());
    m_blockedSeries->append(t, m_run->blocked());
    m_x->setRange(0, std::max(1.0, t));
    m_y->setRange(0, std::max(1, std::max(m_run->allowed(), m_run->blocked())));
}

QString BurstPage::counters() const { return m_counters->text(); }

} // namespace sluice
