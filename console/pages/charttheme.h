// SPDX-License-Identifier: Apache-2.0
// Charts follow the desktop's palette: a dark window gets Qt Charts' dark theme, a light one the
// light theme. Called on a chart before its series are added (a theme recolours series).
#pragma once

#include <QChart>
#include <QGuiApplication>
#include <QPalette>
#include <QValueAxis>
#include <algorithm>

namespace sluice {

inline bool desktopIsDark()
{
    return QGuiApplication::palette().color(QPalette::Window).lightness() < 128;
}

inline QChart *themedChart(QChart *chart)
{
    chart->setTheme(desktopIsDark() ? QChart::ChartThemeDark : QChart::ChartThemeLight);
    return chart;
}

// A count axis from 0 with whole, evenly spaced ticks: the step is 1, 2 or 5 × 10^k so that at
// most five steps reach `top` (no 0/2/5/7/10 from rounded fractions, no 12/24/37/49).
inline qint64 wholeStep(qint64 top)
{
    top = std::max<qint64>(1, top);
    for (qint64 magnitude = 1;; magnitude *= 10)
        for (qint64 m : {1, 2, 5})
            if (top <= m * magnitude * 5)
                return m * magnitude;
}

inline void setWholeAxis(QValueAxis *axis, qint64 top)
{
    const qint64 step = wholeStep(top);
    const qint64 max = std::max<qint64>(step, (std::max<qint64>(1, top) + step - 1) / step * step);
    axis->setRange(0, static_cast<double>(max));
    axis->setTickCount(static_cast<int>(max / step) + 1);
    axis->setLabelFormat(QStringLiteral("%d"));
}

} // namespace sluice
